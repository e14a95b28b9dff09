//! One route table: the SAM template, openapi.yaml, the events/ files, the function
//! crates' ROUTES and the local API must name the same routes, each on the same
//! function. A route added in one place and not the others fails here. Also the
//! template's promises that are easy to break silently: every setting the code reads
//! is wired, secrets come from Secrets Manager, each function gets only the
//! permissions it uses; and openapi.yaml's structure and the contract's error codes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_yaml::Value;

const FUNCTIONS: [&str; 5] = [
    "register",
    "login",
    "send-code",
    "verify-code",
    "manage-settings",
];
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// (function, METHOD, path pattern)
type Table = BTreeSet<(String, String, String)>;

fn root() -> PathBuf {
    e2e::repo_root()
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(file))
        .unwrap_or_else(|e| panic!("reading {file}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {file}: {e}"))
}

/// CloudFormation short tags (`!Ref X`) arrive as tagged values; this sees through them.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn tag_name(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string()),
        _ => None,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    untag(v).get(key).map(untag).unwrap_or(&NULL)
}

fn text(v: &Value) -> &str {
    untag(v).as_str().unwrap_or_default()
}

fn mapping(v: &Value) -> Vec<(String, &Value)> {
    untag(v)
        .as_mapping()
        .map(|m| m.iter().map(|(k, v)| (text(k).to_string(), v)).collect())
        .unwrap_or_default()
}

fn serverless_functions(template: &Value) -> Vec<(String, &Value)> {
    mapping(get(template, "Resources"))
        .into_iter()
        .filter(|(_, r)| text(get(r, "Type")) == "AWS::Serverless::Function")
        .collect()
}

/// The function (crate and binary) a template resource builds.
fn binary(resource: &Value) -> String {
    text(get(
        get(get(resource, "Metadata"), "BuildProperties"),
        "Binary",
    ))
    .to_string()
}

fn template_routes(template: &Value) -> Table {
    let mut table = Table::new();
    for (logical, f) in serverless_functions(template) {
        for (event, e) in mapping(get(get(f, "Properties"), "Events")) {
            assert_eq!(
                text(get(e, "Type")),
                "HttpApi",
                "{logical}.{event} must be an HttpApi event"
            );
            let props = get(e, "Properties");
            let api =
                &untag(&get(f, "Properties")["Events"])[event.as_str()]["Properties"]["ApiId"];
            assert_eq!(
                (tag_name(api).as_deref(), text(api)),
                (Some("!Ref"), "Api"),
                "{logical}.{event} must be on the one HTTP API"
            );
            table.insert((
                binary(f),
                text(get(props, "Method")).to_uppercase(),
                text(get(props, "Path")).to_string(),
            ));
        }
    }
    table
}

fn openapi_routes(doc: &Value) -> Table {
    let mut table = Table::new();
    for (path, item) in mapping(get(doc, "paths")) {
        for (method, op) in mapping(item) {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let tags = get(op, "tags").as_sequence().cloned().unwrap_or_default();
            assert_eq!(
                tags.len(),
                1,
                "{method} {path}: exactly one tag, the function that serves it"
            );
            table.insert((
                text(&tags[0]).to_string(),
                method.to_uppercase(),
                path.clone(),
            ));
        }
    }
    table
}

fn crate_routes() -> Table {
    let per_function: [(&str, &[twofa::api::Route]); 5] = [
        ("register", register::ROUTES),
        ("login", login::ROUTES),
        ("send-code", send_code::ROUTES),
        ("verify-code", verify_code::ROUTES),
        ("manage-settings", manage_settings::ROUTES),
    ];
    per_function
        .iter()
        .flat_map(|(f, routes)| {
            routes
                .iter()
                .map(move |r| (f.to_string(), r.method.to_string(), r.path.to_string()))
        })
        .collect()
}

fn local_api_routes() -> Table {
    local_api::route_table()
        .into_iter()
        .map(|(f, r)| (f.to_string(), r.method.to_string(), r.path.to_string()))
        .collect()
}

/// (METHOD, path) of every route in the events, checked for inner consistency on the way.
fn event_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (name, ev) in e2e::event_files() {
        assert_eq!(
            ev["version"], "2.0",
            "{name}: an HTTP API payload 2.0 event"
        );
        let route_key = ev["routeKey"].as_str().unwrap_or_default();
        let (method, pattern) = route_key
            .split_once(' ')
            .unwrap_or_else(|| panic!("{name}: routeKey {route_key:?}"));
        let ctx = &ev["requestContext"];
        assert_eq!(
            ctx["routeKey"], route_key,
            "{name}: requestContext.routeKey"
        );
        assert_eq!(
            ctx["http"]["method"], method,
            "{name}: requestContext.http.method"
        );
        let path = ev["rawPath"].as_str().unwrap_or_default();
        assert_eq!(
            ctx["http"]["path"], path,
            "{name}: requestContext.http.path"
        );
        let params = twofa::api::match_path(pattern, path)
            .unwrap_or_else(|| panic!("{name}: {path} does not match {pattern}"));
        let names: Vec<&str> = pattern
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (n, v) in names.iter().zip(&params) {
            assert_eq!(
                ev["pathParameters"][n],
                v.as_str(),
                "{name}: pathParameters.{n}"
            );
        }
        assert_eq!(
            ev["headers"]["content-type"], "application/json",
            "{name}: content-type header"
        );
        routes.insert((method.to_string(), pattern.to_string()));
    }
    routes
}

fn without_function(t: &Table) -> BTreeSet<(String, String)> {
    t.iter().map(|(_, m, p)| (m.clone(), p.clone())).collect()
}

#[test]
fn the_template_openapi_events_crates_and_local_api_name_the_same_routes_on_the_same_functions() {
    let crates = crate_routes();
    let template = template_routes(&yaml("template.yaml"));
    let openapi = openapi_routes(&yaml("openapi.yaml"));
    // The count comes from the contract, so a new route changes no number here.
    assert_eq!(
        crates.len(),
        openapi.len(),
        "every route openapi.yaml documents, the console's page and files included"
    );
    let local = local_api_routes();
    assert_eq!(
        template, crates,
        "template.yaml routes (left) vs the function crates' ROUTES (right)"
    );
    assert_eq!(
        openapi, crates,
        "openapi.yaml paths (left) vs the function crates' ROUTES (right)"
    );
    assert_eq!(
        local, crates,
        "local_api::route_table() (left) vs the function crates' ROUTES (right)"
    );
    assert_eq!(
        event_routes(),
        without_function(&crates),
        "events/ routeKeys (left) vs the function crates' ROUTES (right)"
    );
}

#[test]
fn every_route_has_exactly_one_event_file_named_for_the_sam_users() {
    let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (_, ev) in e2e::event_files() {
        let (m, p) = ev["routeKey"]
            .as_str()
            .and_then(|k| k.split_once(' '))
            .unwrap_or_default();
        *count.entry((m.to_string(), p.to_string())).or_default() += 1;
    }
    assert!(
        count.values().all(|n| *n == 1),
        "one event per route: {count:?}"
    );
    for required in [
        "register.json",
        "login.json",
        "send-code.json",
        "verify-code.json",
    ] {
        assert!(
            root().join("events").join(required).exists(),
            "events/{required} is missing"
        );
    }
}

#[test]
fn each_function_is_a_cargo_lambda_arm64_build_of_its_own_binary() {
    let template = yaml("template.yaml");
    let globals = get(get(&template, "Globals"), "Function");
    assert_eq!(text(get(globals, "Runtime")), "provided.al2023");
    assert_eq!(
        get(globals, "Architectures")
            .as_sequence()
            .map(|a| a.iter().map(text).collect::<Vec<_>>()),
        Some(vec!["arm64"])
    );
    assert_eq!(text(get(globals, "Handler")), "bootstrap");
    let mut binaries = BTreeSet::new();
    for (logical, f) in serverless_functions(&template) {
        assert_eq!(
            text(get(get(f, "Metadata"), "BuildMethod")),
            "rust-cargolambda",
            "{logical}"
        );
        assert_eq!(
            text(get(get(f, "Properties"), "CodeUri")),
            ".",
            "{logical}: CodeUri is the workspace root"
        );
        binaries.insert(binary(f));
    }
    assert_eq!(
        binaries,
        FUNCTIONS.iter().map(|f| f.to_string()).collect(),
        "one function per crate"
    );
}

/// `"NAME"` literals passed to the settings readers of the code (`env.get("X")`, `number(env, "X", ..)`).
fn env_vars_read_in(file: &str) -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut vars = BTreeSet::new();
    for marker in [".get(\"", "var(\"", "number(env, \"", "required(\""] {
        for piece in src.split(marker).skip(1) {
            if let Some(name) = piece
                .split('"')
                .next()
                .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            {
                vars.insert(name.to_string());
            }
        }
    }
    vars
}

#[test]
fn every_setting_the_code_reads_is_set_by_the_template() {
    let template = yaml("template.yaml");
    let mut set: BTreeSet<String> = mapping(get(
        get(get(get(&template, "Globals"), "Function"), "Environment"),
        "Variables",
    ))
    .into_iter()
    .map(|(k, _)| k)
    .collect();
    for (_, f) in serverless_functions(&template) {
        set.extend(
            mapping(get(get(get(f, "Properties"), "Environment"), "Variables"))
                .into_iter()
                .map(|(k, _)| k),
        );
    }
    // Endpoints (and the SDK's switch that ignores them) are for tests, the local API
    // and `sam local`; Twilio's base URL, timeout and SID alias are test or optional
    // knobs. Lambda itself sets AWS_LAMBDA_FUNCTION_NAME.
    let not_for_lambda = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "DYNAMODB_ENDPOINT",
        "TWILIO_BASE_URL",
        "TWILIO_TIMEOUT_SECONDS",
        "TWILIO_ACCOUNT_SID",
        // Set by `sam local` itself.
        "AWS_SAM_LOCAL",
    ];
    // Members of the keys secret (KEYS_SECRET_ID) that only a rotation adds: never in
    // the configuration (secrets_come_from_secrets_manager_and_no_parameter_has_a_secret_default).
    let secret_members = [
        "ACCESS_TOKEN_PREVIOUS_KEYS",
        "JWT_KEY_ID",
        "JWT_PREVIOUS_KEYS",
    ];
    let mut read = BTreeSet::new();
    for file in [
        "shared/src/config.rs",
        "shared/src/app/mod.rs",
        "shared/src/store/dynamo/mod.rs",
        "shared/src/senders/twilio.rs",
        "shared/src/senders/sns.rs",
    ] {
        read.extend(env_vars_read_in(file));
    }
    assert!(
        read.contains("LOCKOUT_MAX_FAILED_ATTEMPTS") && read.contains("JWT_SIGNING_KEY"),
        "the scan finds settings: {read:?}"
    );
    let missing: Vec<_> = read
        .iter()
        .filter(|v| {
            !set.contains(*v)
                && !not_for_lambda.contains(&v.as_str())
                && !secret_members.contains(&v.as_str())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "settings the code reads but the template never sets: {missing:?}"
    );
}

#[test]
fn secrets_come_from_secrets_manager_and_no_parameter_has_a_secret_default() {
    let raw = std::fs::read_to_string(root().join("template.yaml")).expect("template");
    let template = yaml("template.yaml");
    let globals = get(
        get(get(get(&template, "Globals"), "Function"), "Environment"),
        "Variables",
    );
    let send_code = serverless_functions(&template)
        .into_iter()
        .find(|(_, f)| binary(f) == "send-code")
        .map(|(_, f)| f.clone())
        .expect("send-code");
    let send_code_env = get(
        get(get(&send_code, "Properties"), "Environment"),
        "Variables",
    )
    .clone();
    // The keys are never in the configuration: declared empty (for `sam local`'s
    // events/env.json to fill), and read at run time from the secret KEYS_SECRET_ID names.
    for var in [
        "ACCESS_TOKEN_SIGNING_KEY",
        "JWT_SIGNING_KEY",
        "CODE_HMAC_KEY",
        "TOTP_ENCRYPTION_KEY",
    ] {
        assert_eq!(
            untag(globals)[var].as_str(),
            Some(""),
            "{var} must not be in the functions' configuration"
        );
    }
    assert!(
        !raw.contains("SecretString:JWT_SIGNING_KEY")
            && !raw.contains("SecretString:ACCESS_TOKEN_SIGNING_KEY")
            && !raw.contains("SecretString:CODE_HMAC_KEY")
            && !raw.contains("SecretString:TOTP_ENCRYPTION_KEY"),
        "no key is resolved into the configuration"
    );
    assert_eq!(
        serde_yaml::to_string(&untag(globals)["KEYS_SECRET_ID"])
            .expect("serialisable")
            .trim(),
        "!Ref KeysSecretName"
    );
    for (_, f) in serverless_functions(&template) {
        let policies =
            serde_yaml::to_string(get(get(f, "Properties"), "Policies")).expect("serialisable");
        assert!(
            policies.contains("secretsmanager:GetSecretValue")
                && policies.contains(":secret:${KeysSecretName}-??????"),
            "{}: may read the keys secret, and only it",
            binary(f)
        );
    }
    let v =
        serde_yaml::to_string(&untag(&send_code_env)["TWILIO_AUTH_TOKEN"]).expect("serialisable");
    assert!(
        v.contains("{{resolve:secretsmanager:"),
        "TWILIO_AUTH_TOKEN must be a Secrets Manager dynamic reference, found {v}"
    );
    for (name, p) in mapping(get(&template, "Parameters")) {
        let lower = name.to_lowercase();
        // A parameter named for a secret would carry its value through the stack's parameters
        // in the clear; such a name may only be a switch with fixed values.
        if ["key", "keys", "token", "password", "secret"]
            .iter()
            .any(|w| lower.ends_with(w))
        {
            assert!(
                get(p, "AllowedValues").is_sequence(),
                "parameter {name} looks like a secret; secrets belong in Secrets Manager"
            );
        }
    }
    assert!(
        !raw.contains("{{resolve:ssm-secure"),
        "ssm-secure references do not work in Lambda environment variables"
    );
}

/// The actions of every statement a function is granted, whatever condition wraps it.
fn granted_actions(f: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match untag(v) {
            Value::Mapping(m) => {
                for (k, val) in m {
                    if text(k) == "Action" {
                        match untag(val) {
                            Value::Sequence(s) => out.extend(s.iter().map(|a| text(a).to_string())),
                            other => {
                                out.insert(text(other).to_string());
                            }
                        }
                    } else {
                        walk(val, out);
                    }
                }
            }
            Value::Sequence(s) => s.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(get(get(f, "Properties"), "Policies"), &mut out);
    out
}

#[test]
fn each_function_may_send_only_what_it_sends_and_touch_only_the_table() {
    let template = yaml("template.yaml");
    for (_, f) in serverless_functions(&template) {
        let name = binary(f);
        let actions = granted_actions(f);
        assert_eq!(
            actions.contains("sns:Publish"),
            name == "send-code",
            "{name}: sns:Publish only where texts are sent"
        );
        assert_eq!(
            actions.contains("ses:SendEmail"),
            name != "register",
            "{name}: ses:SendEmail where codes or notices are emailed"
        );
        for a in &actions {
            assert!(
                !a.contains('*') && a != "dynamodb:Scan",
                "{name}: {a} reaches further than any handler needs"
            );
        }
        let writes: BTreeSet<&str> = actions
            .iter()
            .filter_map(|a| a.strip_prefix("dynamodb:"))
            .filter(|a| !["GetItem", "BatchGetItem", "Query"].contains(a))
            .collect();
        // register only creates; login counts failures, moves sign-in state, records
        // security events (a lockout's two in one batch) and keeps sessions, deleting only
        // a session it ends.
        match name.as_str() {
            "register" => assert_eq!(writes, BTreeSet::from(["PutItem"]), "{name}"),
            "login" => assert_eq!(
                writes,
                BTreeSet::from([
                    "UpdateItem",
                    "PutItem",
                    "BatchWriteItem",
                    "DeleteItem",
                    "ConditionCheckItem"
                ]),
                "{name}"
            ),
            _ => assert!(!writes.is_empty(), "{name} writes"),
        }
        let policies = serde_yaml::to_string(untag(get(get(f, "Properties"), "Policies")))
            .expect("serialisable");
        assert!(
            !policies.contains("DynamoDBCrudPolicy") && !policies.contains("FullAccess"),
            "{name}: a broad managed policy"
        );
    }
}

#[test]
fn the_table_has_the_keys_ttl_recovery_and_protection_the_store_expects() {
    let template = yaml("template.yaml");
    let table = get(get(&template, "Resources"), "Table");
    assert_eq!(text(get(table, "Type")), "AWS::DynamoDB::Table");
    let p = get(table, "Properties");
    assert_eq!(text(get(p, "BillingMode")), "PAY_PER_REQUEST");
    let keys: Vec<(String, String)> = get(p, "KeySchema")
        .as_sequence()
        .expect("KeySchema")
        .iter()
        .map(|k| {
            (
                text(get(k, "AttributeName")).to_string(),
                text(get(k, "KeyType")).to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("pk".to_string(), "HASH".to_string()),
            ("sk".to_string(), "RANGE".to_string())
        ]
    );
    assert_eq!(
        text(get(get(p, "TimeToLiveSpecification"), "AttributeName")),
        "expires_at"
    );
    assert_eq!(
        get(
            get(p, "PointInTimeRecoverySpecification"),
            "PointInTimeRecoveryEnabled"
        )
        .as_bool(),
        Some(true)
    );
    let protection = &untag(p)["DeletionProtectionEnabled"];
    assert_eq!(
        (tag_name(protection).as_deref(), text(protection)),
        (Some("!Ref"), "TableDeletionProtection")
    );
    let outputs: BTreeSet<String> = mapping(get(&template, "Outputs"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        outputs.contains("ApiUrl") && outputs.contains("TableName"),
        "outputs: {outputs:?}"
    );
}

#[test]
fn samconfig_names_no_profile_account_or_region() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).expect("samconfig.toml");
    for key in ["profile", "region", "account", "s3_bucket"] {
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with(key)),
            "samconfig.toml sets {key}: deployers bring their own"
        );
    }
    assert!(
        !text
            .chars()
            .collect::<String>()
            .split(|c: char| !c.is_ascii_digit())
            .any(|d| d.len() == 12),
        "an account id in samconfig.toml"
    );
}

/// Follows `$ref`s inside openapi.yaml.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match get(v, "$ref").as_str() {
        Some(r) => {
            let path = r
                .strip_prefix("#/")
                .unwrap_or_else(|| panic!("only local refs: {r}"));
            let target = path.split('/').fold(doc, |node, seg| get(node, seg));
            assert!(!target.is_null(), "$ref {r} resolves to nothing");
            resolve(doc, target)
        }
        None => v,
    }
}

#[test]
fn every_openapi_reference_resolves_and_every_operation_answers_with_json_errors() {
    let doc = yaml("openapi.yaml");
    assert!(text(get(&doc, "openapi")).starts_with("3.1"), "OpenAPI 3.1");
    assert!(
        !get(
            get(get(&doc, "components"), "securitySchemes"),
            "bearerAuth"
        )
        .is_null(),
        "the bearer scheme"
    );
    fn all_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Mapping(m) => {
                for (k, val) in m {
                    if text(k) == "$ref" {
                        out.push(text(val));
                    } else {
                        all_refs(val, out);
                    }
                }
            }
            Value::Sequence(s) => s.iter().for_each(|x| all_refs(x, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    all_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "the document uses references");
    for r in refs {
        let node = serde_yaml::Mapping::from_iter([(Value::from("$ref"), Value::from(r))]);
        resolve(&doc, &Value::Mapping(node));
    }
    for (path, item) in mapping(get(&doc, "paths")) {
        for (method, op) in mapping(item)
            .into_iter()
            .filter(|(m, _)| METHODS.contains(&m.as_str()))
        {
            let responses = mapping(get(op, "responses"));
            assert!(
                responses.iter().any(|(s, _)| s.starts_with('2')),
                "{method} {path}: a success response"
            );
            for (status, r) in responses
                .iter()
                .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
            {
                let schema = get(
                    get(get(resolve(&doc, r), "content"), "application/json"),
                    "schema",
                );
                assert!(
                    !schema.is_null(),
                    "{method} {path} {status}: a JSON error body"
                );
            }
            let public = [
                "/register",
                "/login",
                "/password/forgot",
                "/password/reset",
                "/",
                "/console/{file}",
                "/.well-known/openid-configuration",
                "/.well-known/jwks.json",
                "/token/refresh",
                "/token/revoke",
                "/passkeys/sign-in",
                "/passkeys/sign-in/finish",
            ]
            .contains(&path.as_str());
            let security = get(op, "security").as_sequence().map(|s| s.len());
            assert_eq!(
                public,
                security == Some(0),
                "{method} {path}: public routes (only) drop the bearer requirement"
            );
        }
    }
}

/// The error codes an operation documents for a status.
fn documented_codes(doc: &Value, method: &str, path: &str, status: u16) -> BTreeSet<String> {
    let op = get(get(get(doc, "paths"), path), &method.to_lowercase());
    let response = resolve(doc, get(get(op, "responses"), &status.to_string()));
    let schema = resolve(
        doc,
        get(get(get(response, "content"), "application/json"), "schema"),
    );
    let mut codes = BTreeSet::new();
    for part in get(schema, "allOf")
        .as_sequence()
        .cloned()
        .unwrap_or_default()
    {
        let part = resolve(doc, &part).clone();
        for c in get(get(get(&part, "properties"), "error"), "enum")
            .as_sequence()
            .cloned()
            .unwrap_or_default()
        {
            codes.insert(text(&c).to_string());
        }
    }
    codes
}

#[test]
fn openapi_documents_every_status_and_error_code_of_the_contract() {
    let doc = yaml("openapi.yaml");
    // The contract's answers, route by route: (method, path, status, error code or "" for success).
    let contract: &[(&str, &str, u16, &str)] = &[
        ("POST", "/register", 201, ""),
        ("POST", "/register", 400, "invalid_email"),
        ("POST", "/register", 400, "weak_password"),
        ("POST", "/register", 400, "invalid_phone"),
        ("POST", "/register", 400, "invalid_request"),
        ("POST", "/register", 404, "unknown_tenant"),
        ("POST", "/register", 409, "email_taken"),
        ("POST", "/register", 413, "payload_too_large"),
        ("POST", "/login", 200, ""),
        ("POST", "/login", 401, "invalid_credentials"),
        ("POST", "/login", 423, "locked_out"),
        ("POST", "/login", 404, "unknown_tenant"),
        ("POST", "/send-code", 202, ""),
        ("POST", "/send-code", 400, "provider_unavailable"),
        ("POST", "/send-code", 401, "unauthorized"),
        ("POST", "/send-code", 429, "too_many_requests"),
        ("POST", "/send-code", 502, "delivery_failed"),
        ("POST", "/verify-code", 200, ""),
        ("POST", "/verify-code", 401, "invalid_code"),
        ("POST", "/verify-code", 401, "unauthorized"),
        ("POST", "/verify-code", 423, "locked_out"),
        ("POST", "/verify-code", 410, "code_expired"),
        ("POST", "/verify-code", 403, "step_up_required"),
        ("GET", "/settings/two-factor", 200, ""),
        ("GET", "/settings/two-factor", 401, "unauthorized"),
        ("GET", "/settings/two-factor", 403, "forbidden"),
        ("PUT", "/settings/two-factor", 409, "controlled_by_host"),
        ("PUT", "/settings/two-factor", 403, "step_up_required"),
        ("POST", "/tenants", 201, ""),
        ("POST", "/tenants", 409, "tenant_exists"),
        ("POST", "/tenants", 403, "forbidden"),
        ("GET", "/tenants/{tenant}/features/two-factor", 200, ""),
        ("PUT", "/tenants/{tenant}/features/two-factor", 200, ""),
        (
            "PUT",
            "/tenants/{tenant}/features/two-factor",
            404,
            "unknown_tenant",
        ),
        (
            "PUT",
            "/tenants/{tenant}/features/two-factor",
            403,
            "step_up_required",
        ),
        ("GET", "/users/{user_id}/two-factor", 200, ""),
        ("PUT", "/users/{user_id}/two-factor", 409, "not_optional"),
        (
            "PUT",
            "/users/{user_id}/two-factor",
            403,
            "step_up_required",
        ),
        ("GET", "/account/two-factor", 200, ""),
        ("PUT", "/account/two-factor", 403, "forbidden"),
        ("PUT", "/account/two-factor", 403, "step_up_required"),
        ("POST", "/account/authenticator", 200, ""),
        ("POST", "/account/authenticator/verify", 200, ""),
        ("POST", "/account/authenticator/verify", 401, "invalid_code"),
        ("DELETE", "/account/authenticator", 204, ""),
        ("DELETE", "/account/authenticator", 403, "step_up_required"),
        ("POST", "/account/recovery-codes", 200, ""),
        ("POST", "/account/recovery-codes", 403, "step_up_required"),
        ("POST", "/account/forget-browser", 204, ""),
        ("GET", "/account/devices", 200, ""),
        ("DELETE", "/account/devices/{device_id}", 204, ""),
        ("DELETE", "/account/devices/{device_id}", 404, "not_found"),
        ("GET", "/users", 200, ""),
        ("GET", "/users", 400, "invalid_request"),
        ("GET", "/users", 403, "forbidden"),
        ("POST", "/users/{user_id}/unlock", 204, ""),
        ("POST", "/users/{user_id}/unlock", 404, "not_found"),
        ("POST", "/users/{user_id}/reset-two-factor", 204, ""),
        (
            "POST",
            "/users/{user_id}/reset-two-factor",
            403,
            "step_up_required",
        ),
        (
            "POST",
            "/users/{user_id}/reset-two-factor",
            404,
            "not_found",
        ),
        ("GET", "/account/events", 200, ""),
        ("GET", "/account/events", 400, "invalid_request"),
        ("GET", "/events", 200, ""),
        ("GET", "/events", 400, "invalid_request"),
        ("GET", "/events", 403, "forbidden"),
        ("GET", "/events", 404, "not_found"),
        ("POST", "/password/forgot", 202, ""),
        ("POST", "/password/reset", 204, ""),
        ("POST", "/password/reset", 401, "invalid_code"),
        ("POST", "/password/reset", 410, "code_expired"),
        ("POST", "/password/reset", 400, "weak_password"),
        ("POST", "/password/reset", 423, "locked_out"),
        ("PUT", "/account/password", 204, ""),
        ("PUT", "/account/password", 401, "invalid_credentials"),
        ("PUT", "/account/password", 400, "weak_password"),
        ("PUT", "/account/password", 403, "step_up_required"),
        ("POST", "/account/sign-out-everywhere", 204, ""),
        ("GET", "/settings/lockout", 200, ""),
        ("PUT", "/settings/lockout", 200, ""),
        ("PUT", "/settings/lockout", 403, "forbidden"),
    ];
    for (method, path, status, code) in contract {
        let op = get(get(get(&doc, "paths"), path), &method.to_lowercase());
        assert!(!op.is_null(), "{method} {path} is not in openapi.yaml");
        let response = get(get(op, "responses"), &status.to_string());
        assert!(
            !response.is_null(),
            "{method} {path}: status {status} is not documented"
        );
        if !code.is_empty() {
            let codes = documented_codes(&doc, method, path, *status);
            assert!(
                codes.contains(*code),
                "{method} {path} {status}: {code} not among {codes:?}"
            );
        }
    }
    let locked = resolve(
        &doc,
        get(
            get(get(get(get(&doc, "paths"), "/login"), "post"), "responses"),
            "423",
        ),
    );
    assert!(
        !get(get(locked, "headers"), "Retry-After").is_null(),
        "423 carries Retry-After"
    );
}

/// Every error code the code can answer with is documented in openapi.yaml, and
/// every code openapi.yaml documents is one the code names ([`ErrorCode`]): a code
/// added, renamed or dropped on one side only fails here.
#[test]
fn every_error_code_is_in_openapi_and_every_openapi_code_is_named_in_the_code() {
    use twofa::api::ErrorCode;
    fn error_enums(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, val) in m {
                    if text(k) == "error" {
                        for c in get(val, "enum").as_sequence().into_iter().flatten() {
                            out.insert(text(c).to_string());
                        }
                    }
                    error_enums(val, out);
                }
            }
            Value::Sequence(s) => s.iter().for_each(|x| error_enums(x, out)),
            Value::Tagged(t) => error_enums(&t.value, out),
            _ => {}
        }
    }
    let mut documented = BTreeSet::new();
    error_enums(&yaml("openapi.yaml"), &mut documented);
    let named: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert!(named.len() > 20, "the contract has {} codes", named.len());
    assert_eq!(
        named.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "codes the functions answer with that openapi.yaml does not document"
    );
    assert_eq!(
        documented.difference(&named).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "codes openapi.yaml documents that no ErrorCode names"
    );
}

/// Every test SECURITY.md points to exists: a promise whose test was renamed or
/// deleted would otherwise go on pointing at nothing. A name counts when some Rust
/// file of the repo defines a function by it (tests generated by a macro are named
/// in the macro's invocation, so that counts too).
#[test]
fn every_test_security_md_names_exists() {
    let table = std::fs::read_to_string(root().join("SECURITY.md"))
        .expect("SECURITY.md at the project root");
    let mut sources = String::new();
    let mut dirs = vec![root()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("a readable folder")
            .flatten()
        {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() && !name.starts_with('.') && name != "target" && name != "node_modules"
            {
                dirs.push(path);
            } else if name.ends_with(".rs") {
                sources.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut named = 0;
    let mut missing = Vec::new();
    for span in table.split('`').skip(1).step_by(2) {
        let Some((_, test)) = span.rsplit_once("::") else {
            continue;
        };
        if test.is_empty()
            || test == "*"
            || !test
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        named += 1;
        if !sources.contains(&format!("fn {test}(")) && !sources.contains(&format!("{test} =>")) {
            missing.push(span.to_string());
        }
    }
    assert!(named > 50, "SECURITY.md names only {named} tests");
    assert!(
        missing.is_empty(),
        "SECURITY.md names tests that do not exist: {missing:#?}"
    );
}
