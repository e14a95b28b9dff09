//! template.yaml read the way CloudFormation reads it, as far as the tests need:
//! parameter values (defaults, given values, `AllowedValues` and number bounds), the
//! `Conditions`, the `Rules` a deployment must pass, and the intrinsic functions the
//! template uses (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If`, `Fn::Equals`, `Fn::Not`,
//! `Fn::And`, `Fn::Or`, `Fn::Join`, `Fn::Contains`, `Condition`). The permission gate
//! ([`crate::iam_gate`]) takes each function's policy from here, so the tests enforce
//! what a deployed stack grants; the rule tests ask it which parameter sets a
//! deployment would refuse (cfn-lint does not evaluate `Rules`).
//!
//! An intrinsic it does not know is an error, never a guess: a policy the gate cannot
//! read must fail the test, not pass it.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

/// The account the tests' ARNs name (the pseudo parameter `AWS::AccountId`).
pub const ACCOUNT: &str = "123456789012";
/// The region of the tests (`AWS::Region`); the SDK config of the tests names it too.
pub const REGION: &str = "us-east-1";

/// A template with the parameter values of one deployment.
pub struct Template {
    doc: Value,
    parameters: BTreeMap<String, String>,
    /// Logical id → (what `Ref` gives, attributes for `Fn::GetAtt`).
    resources: BTreeMap<String, (String, BTreeMap<String, String>)>,
}

impl Template {
    /// Parses `text` (template.yaml or an edited copy); `parameters` are the values
    /// given at deploy time, the others take their defaults.
    pub fn parse(text: &str, parameters: &[(&str, &str)]) -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("template: {e}"))?;
        let mut values = BTreeMap::new();
        for (name, p) in &mapping(&doc, "Parameters") {
            if let Some(d) = untag(p).get("Default") {
                values.insert(name.clone(), scalar(d));
            }
        }
        for (name, value) in parameters {
            if !untag(&doc)["Parameters"]
                .as_mapping()
                .is_some_and(|m| m.contains_key(*name))
            {
                return Err(format!("no parameter {name} in the template"));
            }
            values.insert(name.to_string(), value.to_string());
        }
        Ok(Self {
            doc,
            parameters: values,
            resources: BTreeMap::new(),
        })
    }

    /// The file at the repository's root.
    pub fn repo_text() -> String {
        let path = crate::repo_root().join("template.yaml");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Names what a resource's `Ref` and `Fn::GetAtt` give in this deployment (a
    /// table's name and `Arn`).
    pub fn with_resource(mut self, logical: &str, reference: &str, attrs: &[(&str, &str)]) -> Self {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.resources
            .insert(logical.to_string(), (reference.to_string(), attrs));
        self
    }

    /// The parsed document, intrinsics unresolved.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// A parameter's value in this deployment.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// Why CloudFormation would refuse this deployment's parameters: a value without
    /// a default, outside `AllowedValues`, `AllowedPattern` or a number's bounds, or a
    /// rule whose assertion fails (its `AssertDescription`). Empty when it would
    /// accept them. (cfn-lint 1.x with `--parameters` checks `AllowedValues` only.)
    pub fn refusals(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (name, p) in &mapping(&self.doc, "Parameters") {
            let Some(value) = self.parameters.get(name) else {
                out.push(format!("{name}: no value and no default"));
                continue;
            };
            if let Some(allowed) = untag(p).get("AllowedValues").and_then(Value::as_sequence)
                && !allowed.iter().any(|a| scalar(a) == *value)
            {
                out.push(format!("{name}: {value:?} is not an allowed value"));
            }
            if let Some(pattern) = untag(p).get("AllowedPattern").map(scalar) {
                // CloudFormation matches the whole value.
                let re = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("{name}: AllowedPattern {pattern:?}: {e}"))?;
                if !re.is_match(value) {
                    out.push(format!("{name}: {value:?} does not match {pattern:?}"));
                }
            }
            if text(untag(p).get("Type")) == "Number" {
                match value.parse::<f64>() {
                    Err(_) => out.push(format!("{name}: {value:?} is not a number")),
                    Ok(n) => {
                        let bound = |k: &str| untag(p).get(k).map(scalar)?.parse::<f64>().ok();
                        if bound("MinValue").is_some_and(|m| n < m)
                            || bound("MaxValue").is_some_and(|m| n > m)
                        {
                            out.push(format!("{name}: {value} is out of bounds"));
                        }
                    }
                }
            }
        }
        for (name, rule) in &mapping(&self.doc, "Rules") {
            if let Some(c) = untag(rule).get("RuleCondition")
                && !self.boolean(c)?
            {
                continue;
            }
            for a in untag(rule)
                .get("Assertions")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                let assert = untag(a)
                    .get("Assert")
                    .ok_or_else(|| format!("rule {name}: an assertion without Assert"))?;
                if !self.boolean(assert)? {
                    out.push(format!(
                        "{name}: {}",
                        text(untag(a).get("AssertDescription"))
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Whether the named entry of `Conditions` holds.
    pub fn condition(&self, name: &str) -> Result<bool, String> {
        let c = untag(&self.doc)["Conditions"]
            .get(name)
            .ok_or_else(|| format!("no condition {name}"))?;
        self.boolean(c)
    }

    /// `v` with every intrinsic resolved; `None` for `AWS::NoValue` (and a branch
    /// of `Fn::If` that is it).
    pub fn resolve(&self, v: &Value) -> Result<Option<Value>, String> {
        if let Some((name, arg)) = intrinsic(v) {
            return self.call(&name, arg);
        }
        Ok(Some(match v {
            Value::Tagged(t) => return self.resolve(&t.value),
            Value::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.resolve(item)?);
                }
                Value::Sequence(out)
            }
            Value::Mapping(m) => {
                let mut out = Mapping::new();
                for (k, item) in m {
                    if let Some(r) = self.resolve(item)? {
                        out.insert(k.clone(), r);
                    }
                }
                Value::Mapping(out)
            }
            other => other.clone(),
        }))
    }

    fn boolean(&self, v: &Value) -> Result<bool, String> {
        match self.resolve(v)? {
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            other => Err(format!("not a condition: {other:?}")),
        }
    }

    fn string(&self, v: &Value) -> Result<String, String> {
        match self.resolve(v)? {
            Some(r) if !r.is_sequence() && !r.is_mapping() => Ok(scalar(&r)),
            other => Err(format!("not a string: {other:?}")),
        }
    }

    fn reference(&self, name: &str) -> Result<Option<String>, String> {
        Ok(Some(match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::Partition" => "aws".into(),
            "AWS::Region" => REGION.into(),
            "AWS::AccountId" => ACCOUNT.into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::StackName" => "twofa-tests".into(),
            _ => match (self.parameters.get(name), self.resources.get(name)) {
                (Some(p), _) => p.clone(),
                (None, Some((r, _))) => r.clone(),
                (None, None) => return Err(format!("Ref {name}: not known to the tests")),
            },
        }))
    }

    fn attribute(&self, logical: &str, attr: &str) -> Result<String, String> {
        self.resources
            .get(logical)
            .and_then(|(_, attrs)| attrs.get(attr))
            .cloned()
            .ok_or_else(|| format!("GetAtt {logical}.{attr}: not known to the tests"))
    }

    fn call(&self, name: &str, arg: &Value) -> Result<Option<Value>, String> {
        let list = |n: usize| -> Result<&Vec<Value>, String> {
            untag(arg)
                .as_sequence()
                .filter(|s| s.len() == n)
                .ok_or_else(|| format!("{name} takes {n} arguments"))
        };
        let s = |x: String| Ok(Some(Value::String(x)));
        let b = |x: bool| Ok(Some(Value::Bool(x)));
        match name {
            "Ref" => Ok(self.reference(&scalar(arg))?.map(Value::String)),
            "Fn::GetAtt" => {
                let (logical, attr) = match untag(arg) {
                    Value::Sequence(p) if p.len() == 2 => (scalar(&p[0]), scalar(&p[1])),
                    other => {
                        let t = scalar(other);
                        let (l, a) = t
                            .split_once('.')
                            .ok_or_else(|| format!("GetAtt {t}: no attribute"))?;
                        (l.to_string(), a.to_string())
                    }
                };
                s(self.attribute(&logical, &attr)?)
            }
            "Fn::Sub" => {
                let (pattern, vars) = match untag(arg) {
                    Value::Sequence(p) if p.len() == 2 => (scalar(&p[0]), Some(&p[1])),
                    other => (scalar(other), None),
                };
                s(self.substitute(&pattern, vars)?)
            }
            "Fn::If" => {
                let p = list(3)?;
                if self.condition(&scalar(&p[0]))? {
                    self.resolve(&p[1])
                } else {
                    self.resolve(&p[2])
                }
            }
            "Fn::Equals" => {
                let p = list(2)?;
                b(self.string(&p[0])? == self.string(&p[1])?)
            }
            "Fn::Not" => b(!self.boolean(&list(1)?[0])?),
            "Fn::And" | "Fn::Or" => {
                let items = untag(arg)
                    .as_sequence()
                    .ok_or_else(|| format!("{name} takes a list"))?;
                let mut values = Vec::new();
                for i in items {
                    values.push(self.boolean(i)?);
                }
                b(if name == "Fn::And" {
                    values.iter().all(|x| *x)
                } else {
                    values.iter().any(|x| *x)
                })
            }
            "Condition" => b(self.condition(&scalar(arg))?),
            "Fn::Join" => {
                let p = list(2)?;
                let parts = match self.resolve(&p[1])? {
                    Some(Value::Sequence(parts)) => parts,
                    other => return Err(format!("Fn::Join of {other:?}")),
                };
                s(parts
                    .iter()
                    .map(scalar)
                    .collect::<Vec<_>>()
                    .join(&scalar(&p[0])))
            }
            "Fn::Contains" => {
                let p = list(2)?;
                let value = self.string(&p[1])?;
                let found = match self.resolve(&p[0])? {
                    Some(Value::Sequence(items)) => items.iter().any(|i| scalar(i) == value),
                    other => return Err(format!("Fn::Contains in {other:?}")),
                };
                b(found)
            }
            other => Err(format!("{other}: an intrinsic the tests do not evaluate")),
        }
    }

    fn substitute(&self, pattern: &str, vars: Option<&Value>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Sub {pattern}: unclosed ${{"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.and_then(|m| untag(m).get(name)) {
                out.push_str(&self.string(v)?);
            } else if let Some((logical, attr)) = name.split_once('.') {
                out.push_str(&self.attribute(logical, attr)?);
            } else {
                out.push_str(
                    &self
                        .reference(name)?
                        .ok_or_else(|| format!("Sub {pattern}: ${{{name}}} is no value"))?,
                );
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The intrinsic a value calls, short form (`!Ref X`) or long (`{Ref: X}`), if any.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            Some((
                match tag {
                    "Ref" | "Condition" => tag.to_string(),
                    other => format!("Fn::{other}"),
                },
                &t.value,
            ))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then(|| (k.to_string(), arg))
        }
        _ => None,
    }
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn text(v: Option<&Value>) -> String {
    v.map(scalar).unwrap_or_default()
}

/// A scalar as CloudFormation passes it: a string.
fn scalar(v: &Value) -> String {
    match untag(v) {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default(),
    }
}

fn mapping(doc: &Value, key: &str) -> Vec<(String, Value)> {
    untag(doc)
        .get(key)
        .map(untag)
        .and_then(Value::as_mapping)
        .map(|m| m.iter().map(|(k, v)| (scalar(k), v.clone())).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
Parameters:
  Provider: {Type: String, Default: sns, AllowedValues: [sns, log]}
  Codes: {Type: String, Default: "", AllowedPattern: "[0-9,]*"}
  Count: {Type: Number, Default: 5, MinValue: 1, MaxValue: 10}
Conditions:
  UseSns: !Equals [!Ref Provider, sns]
Rules:
  RealNeedsCodes:
    RuleCondition: !Not [!Equals [!Ref Provider, log]]
    Assertions:
      - Assert: !Not [!Equals [!Ref Codes, ""]]
        AssertDescription: Codes are required.
Resources:
  Thing:
    Properties:
      A: !If [UseSns, !Sub "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${Table.Arn}/x", !Ref AWS::NoValue]
      B: {"Fn::Sub": ["${X}-${!Y}", {X: !Ref Codes}]}
"#;

    #[test]
    fn a_rule_refuses_the_parameters_it_asserts_against_and_only_under_its_condition() {
        let t = Template::parse(DOC, &[]).unwrap();
        assert_eq!(
            t.refusals().unwrap(),
            ["RealNeedsCodes: Codes are required."]
        );
        let t = Template::parse(DOC, &[("Codes", "1")]).unwrap();
        assert!(t.refusals().unwrap().is_empty());
        let t = Template::parse(DOC, &[("Provider", "log")]).unwrap();
        assert!(t.refusals().unwrap().is_empty());
        let t = Template::parse(
            DOC,
            &[("Provider", "pigeon"), ("Count", "11"), ("Codes", "1")],
        )
        .unwrap();
        assert_eq!(t.refusals().unwrap().len(), 2, "{:?}", t.refusals());
    }

    #[test]
    fn intrinsics_resolve_with_conditions_pseudo_parameters_and_resources() {
        let t = Template::parse(DOC, &[("Codes", "c")])
            .unwrap()
            .with_resource("Table", "t", &[("Arn", "arn:t")]);
        let thing = &untag(t.doc())["Resources"]["Thing"]["Properties"];
        let r = t.resolve(thing).unwrap().unwrap();
        assert_eq!(r["A"], "arn:aws:sns:us-east-1:123456789012:arn:t/x");
        assert_eq!(r["B"], "c-${Y}");
        let t = Template::parse(DOC, &[("Provider", "log")]).unwrap();
        let r = t.resolve(thing).unwrap().unwrap();
        assert!(r.get("A").is_none(), "NoValue drops the key");
    }
}
