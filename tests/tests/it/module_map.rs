//! The module map of `shared/src` (docs/development.md) is the rule, and the code
//! keeps it: every `crate::` path in a module's code (test code and comments left
//! out) names a module of a lower layer, or one listed before it in its own layer.
//! So the domain never imports the HTTP edge (`api`) or the wiring (`app`), nothing
//! imports upward, and no two modules import each other. The table is read from the
//! doc, so the doc cannot drift from the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's place in the map: its layer's number, and its position in that layer.
type Place = (u32, usize);

/// The table under "## Module map of `shared/src`": for each top-level module, its
/// place. A row's first cell is `N. name` (or `tests`, the top); its second cell
/// names the layer's modules in backticks, in order.
fn module_map() -> BTreeMap<String, Place> {
    let doc = std::fs::read_to_string(e2e::repo_root().join("docs/development.md"))
        .expect("reading docs/development.md");
    let section = doc
        .split("\n## Module map of `shared/src`")
        .nth(1)
        .expect("docs/development.md has a section \"## Module map of `shared/src`\"");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut map = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (Some(first), Some(modules)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let layer = match first.split('.').next().map(str::parse::<u32>) {
            Some(Ok(n)) => n,
            _ if *first == "tests" => u32::MAX,
            _ => continue, // the header and its rule
        };
        for (position, name) in modules.split('`').skip(1).step_by(2).enumerate() {
            let old = map.insert(name.to_string(), (layer, position));
            assert!(old.is_none(), "the module map names `{name}` twice");
        }
    }
    assert!(
        !map.is_empty(),
        "the module map of docs/development.md has no rows"
    );
    map
}

/// The code of a file with its comments and its `#[cfg(test)]` items left out.
fn code_of(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            skip_item(&mut lines);
            continue;
        }
        out.push_str(without_comment(line));
        out.push('\n');
    }
    out
}

/// The line up to a `//` that is not inside a string.
fn without_comment(line: &str) -> &str {
    let mut in_string = false;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Skips the item after a `#[cfg(test)]`: up to its `;`, or to the brace that closes it.
fn skip_item<'a>(lines: &mut impl Iterator<Item = &'a str>) {
    let mut depth = 0i32;
    let mut opened = false;
    for line in lines {
        let code = without_comment(line);
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        opened |= code.contains('{');
        let attribute = code.trim_start().starts_with("#[");
        if (opened && depth <= 0) || (!opened && !attribute && code.trim_end().ends_with(';')) {
            return;
        }
    }
}

/// The top-level modules that `code` names through `crate::` (also in `use crate::{…}`).
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `my_crate::…`
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::{c, d}}`: the first segment of each top-level entry.
            for entry in top_level_entries(group) {
                found.insert(entry);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The first path segment of each top-level entry of a `{…}` use group (after its `{`).
fn top_level_entries(group: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let (mut depth, mut current, mut start) = (0, String::new(), true);
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if depth == 0 && start && (c.is_alphanumeric() || c == '_') => current.push(c),
            _ if depth == 0 && start && !current.is_empty() => {
                entries.push(std::mem::take(&mut current));
                start = false;
            }
            _ => {}
        }
    }
    if !current.is_empty() {
        entries.push(current);
    }
    entries
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {dir:?}: {e}")) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// For each top-level module of `shared/src`, the other top-level modules its code imports.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = e2e::repo_root().join("shared/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under shared/src");
        let first = relative.components().next().expect("a path");
        let module = Path::new(first.as_os_str())
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 name")
            .to_string();
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        // The crate root only declares modules; test-only files are test code.
        if module == "lib" || stem.ends_with("tests") {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("reading a source file");
        let uses = graph.entry(module.clone()).or_default();
        uses.extend(
            imports(&code_of(&source))
                .into_iter()
                .filter(|m| *m != module),
        );
    }
    graph
}

/// The imports that break `map`: upward, or sideways to a module listed later in the layer.
fn breaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    map: &BTreeMap<String, Place>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (module, uses) in graph {
        let Some(here) = map.get(module) else {
            found.push(format!("`{module}` is not in the module map"));
            continue;
        };
        for used in uses {
            match map.get(used) {
                None => found.push(format!(
                    "`{module}` imports `{used}`, which is not in the map"
                )),
                Some(there) if there >= here => {
                    let both_ways = graph.get(used).is_some_and(|u| u.contains(module));
                    found.push(format!(
                        "`{module}` (layer {}) imports `{used}` (layer {}){}",
                        here.0,
                        there.0,
                        if both_ways {
                            ", which imports it back"
                        } else {
                            ""
                        }
                    ));
                }
                Some(_) => {}
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_from_below_it_in_the_module_map() {
    let (graph, map) = (module_graph(), module_map());
    let mut found = breaches(&graph, &map);
    for listed in map.keys().filter(|m| !graph.contains_key(*m)) {
        found.push(format!(
            "the map names `{listed}`, which shared/src does not have"
        ));
    }
    assert!(
        found.is_empty(),
        "imports against the module map of docs/development.md:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn no_domain_module_imports_the_http_edge_or_the_wiring() {
    let (graph, map) = (module_graph(), module_map());
    let place = |m: &str| {
        *map.get(m)
            .unwrap_or_else(|| panic!("`{m}` is not in the map"))
    };
    let (app, api) = (place("app"), place("api"));
    let mut found = Vec::new();
    for (module, uses) in &graph {
        // The domain: every layer below the wiring.
        if map.get(module).is_some_and(|p| p.0 < app.0) {
            for edge in ["api", "app"].iter().filter(|e| uses.contains(**e)) {
                found.push(format!("`{module}` imports `{edge}`"));
            }
        }
    }
    assert!(api > app, "the HTTP edge sits above the wiring in the map");
    assert!(
        found.is_empty(),
        "domain modules importing the edge or the wiring: {found:?}"
    );
}

#[test]
fn the_import_scanner_sees_grouped_paths_and_skips_comments_and_test_code() {
    let code = code_of(
        "use crate::{api::Request, store::{A, B}};\n\
         // crate::app in a comment\n\
         let x = crate::clock::now(); // crate::config\n\
         let s = \"// not a comment\"; crate::tokens::X;\n\
         #[cfg(test)]\n\
         mod tests {\n    use crate::testing::World;\n}\n\
         #[cfg(test)]\n\
         use crate::senders::Log;\n\
         let y = my_crate::user::X;\n",
    );
    assert_eq!(
        imports(&code),
        ["api", "clock", "store", "tokens"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
