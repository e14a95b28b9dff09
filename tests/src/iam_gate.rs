//! A permission gate for tests: an HTTP proxy in front of DynamoDB Local or moto
//! that answers as DynamoDB, SNS and SES answer a role without the permission
//! (DynamoDB's `AccessDeniedException`, SNS's `AuthorizationError`, SES's
//! `AccessDenied`) for any action a function's policy in template.yaml does not
//! grant, and forwards the rest. Neither emulator checks permissions, so without it
//! a missing grant (login's lockout events in one `BatchWriteItem`) passes every
//! local test and fails only in a deployed stack.
//!
//! Each function gets its own gates, with its own policy ([`crate::iam`]); the
//! local API of the tests sends each route's SDK traffic through the gates of the
//! function that serves the route (see [`crate::spawn_app`]).
//!
//! What each request asks for, as IAM sees it:
//! - DynamoDB: the operation on the table's ARN (`…/index/<name>` for a `Query` of an
//!   index); a transaction is authorised per item (`PutItem`, `UpdateItem`,
//!   `DeleteItem`, `ConditionCheckItem`, `GetItem`), a batch per table. The
//!   condition key `dynamodb:LeadingKeys` holds the partition keys the request
//!   names (of the index, for an index query).
//! - SNS `Publish`: the topic's ARN, or `*` for a phone number.
//! - SES `SendEmail`: the sender's identity ARN, with `ses:FromAddress`.
//!
//! Every refusal is printed (`permission gate refused …`) and kept ([`Denials`]);
//! with `TWOFA_GATE_TRACE` set every access is printed, to see what a new store
//! call needs granted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::fault_proxy::{Request, forward, read_request};
use crate::iam::{Access, Statement, allows};
use crate::template::{ACCOUNT, REGION};

/// The table's partition key and each index's, as the template declares them.
#[derive(Clone, Debug, Default)]
pub struct TableKeys {
    /// The table's `HASH` attribute.
    pub partition: String,
    /// Index name → its `HASH` attribute.
    pub indexes: BTreeMap<String, String>,
}

impl TableKeys {
    /// Reads the `AWS::DynamoDB::Table` resource `logical` of a parsed template.
    pub fn of(doc: &serde_yaml::Value, logical: &str) -> Self {
        let props = &doc["Resources"][logical]["Properties"];
        let hash = |schema: &serde_yaml::Value| {
            schema
                .as_sequence()
                .into_iter()
                .flatten()
                .find(|k| k["KeyType"] == "HASH")
                .and_then(|k| k["AttributeName"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        Self {
            partition: hash(&props["KeySchema"]),
            indexes: props["GlobalSecondaryIndexes"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|i| {
                    (
                        i["IndexName"].as_str().unwrap_or_default().to_string(),
                        hash(&i["KeySchema"]),
                    )
                })
                .collect(),
        }
    }
}

/// Every refusal of the gates that share it, as `function: action on resource`.
#[derive(Clone, Default)]
pub struct Denials(Arc<Mutex<Vec<String>>>);

impl Denials {
    /// The refusals so far.
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn push(&self, entry: String) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(entry);
    }
}

/// What one gate enforces.
struct Policy {
    function: String,
    statements: Vec<Statement>,
    keys: TableKeys,
    denials: Denials,
    /// Every form body of an SNS or SES request that passed, for tests that check
    /// what was asked of the provider (a message attribute).
    passed: Mutex<Vec<BTreeMap<String, String>>>,
}

/// A running gate; it stops when dropped.
pub struct Gate {
    endpoint: String,
    policy: Arc<Policy>,
    task: JoinHandle<()>,
}

impl Gate {
    /// A gate in front of `upstream` for `function` (its crate name), enforcing
    /// `statements`; refusals are added to `denials`.
    pub async fn start(
        upstream: &str,
        function: &str,
        statements: Vec<Statement>,
        keys: TableKeys,
        denials: Denials,
    ) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let upstream = upstream.trim_end_matches('/').to_string();
        twofa::crypto::install_tls_provider();
        // Pooled: the gate never hangs or drops a connection, and a new connection per
        // call would slow every test a little.
        let client = reqwest::Client::new();
        let policy = Arc::new(Policy {
            function: function.to_string(),
            statements,
            keys,
            denials,
            passed: Mutex::new(Vec::new()),
        });
        let shared = policy.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(
                    stream,
                    upstream.clone(),
                    client.clone(),
                    shared.clone(),
                ));
                while connections.try_join_next().is_some() {}
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            policy,
            task,
        }
    }

    /// The URL to give the SDK instead of the upstream's.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The form parameters of every SNS or SES request that passed the gate.
    pub fn passed(&self) -> Vec<BTreeMap<String, String>> {
        self.policy
            .passed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, upstream: String, client: reqwest::Client, policy: Arc<Policy>) {
    let mut stream = BufReader::new(stream);
    while let Some(request) = read_request(&mut stream).await {
        let service = service(&request);
        let accesses = match service.as_str() {
            "dynamodb" => dynamodb_accesses(&request, &policy.keys),
            "sns" | "ses" => form_accesses(&service, &request),
            other => Err(format!(
                "a request to {other:?}, which the gate does not know"
            )),
        };
        if std::env::var_os("TWOFA_GATE_TRACE").is_some()
            && let Ok(accesses) = &accesses
        {
            for a in accesses {
                eprintln!("permission gate saw {}: {a}", policy.function);
            }
        }
        let refused = match accesses {
            Err(why) => Some(why),
            Ok(accesses) => accesses
                .iter()
                .find(|a| !allows(&policy.statements, a))
                .map(ToString::to_string),
        };
        let answer = match refused {
            Some(what) => {
                // Said aloud: an app that swallows the refusal (a best-effort event) still shows it.
                eprintln!("permission gate refused {}: {what}", policy.function);
                policy.denials.push(format!("{}: {what}", policy.function));
                denied(&service, &policy.function, &what)
            }
            None => {
                if service != "dynamodb" {
                    policy
                        .passed
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(form(&request.body));
                }
                match forward(&client, &upstream, &request).await {
                    Some(answer) => answer,
                    None => return,
                }
            }
        };
        if stream.get_mut().write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// The service a request is signed for (`Credential=…/<region>/<service>/aws4_request`).
fn service(request: &Request) -> String {
    let scope = request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split(',').next())
        .map(|c| c.split('/').collect::<Vec<_>>());
    match scope {
        Some(parts) if parts.len() >= 5 => parts[parts.len() - 2].to_string(),
        _ if request.header("x-amz-target").is_some() => "dynamodb".into(),
        _ => "unsigned".into(),
    }
}

fn table_arn(table: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
}

fn leading(item: &Value, attribute: &str) -> Vec<String> {
    item[attribute]["S"]
        .as_str()
        .map(|k| vec![k.to_string()])
        .unwrap_or_default()
}

fn dynamo(operation: &str, resource: String, keys: Vec<String>) -> Access {
    let mut context = BTreeMap::new();
    context.insert("dynamodb:LeadingKeys".to_string(), keys);
    Access {
        action: format!("dynamodb:{operation}"),
        resource,
        context,
    }
}

fn dynamodb_accesses(request: &Request, keys: &TableKeys) -> Result<Vec<Access>, String> {
    let target = request.header("x-amz-target").unwrap_or_default();
    let operation = target.rsplit('.').next().unwrap_or_default().to_string();
    let body: Value = serde_json::from_slice(&request.body)
        .map_err(|e| format!("dynamodb:{operation}: a body that is not JSON ({e})"))?;
    let pk = keys.partition.as_str();
    let table = body["TableName"].as_str().unwrap_or_default();
    let one = |op: &str, t: &str, item: &Value| dynamo(op, table_arn(t), leading(item, pk));
    Ok(match operation.as_str() {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![one(&operation, table, &body["Key"])],
        "PutItem" => vec![one(&operation, table, &body["Item"])],
        "Query" | "Scan" => {
            let (resource, key) = match body["IndexName"].as_str() {
                Some(index) => (
                    format!("{}/index/{index}", table_arn(table)),
                    keys.indexes.get(index).cloned().unwrap_or_default(),
                ),
                None => (table_arn(table), pk.to_string()),
            };
            let leading = if operation == "Query" {
                query_partition(&body, &key).into_iter().collect()
            } else {
                Vec::new()
            };
            vec![dynamo(&operation, resource, leading)]
        }
        "BatchGetItem" | "BatchWriteItem" => {
            let mut out = Vec::new();
            for (t, requests) in body["RequestItems"].as_object().into_iter().flatten() {
                let items: Vec<&Value> = if operation == "BatchGetItem" {
                    requests["Keys"].as_array().into_iter().flatten().collect()
                } else {
                    requests
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| {
                            let put = &r["PutRequest"]["Item"];
                            if put.is_null() {
                                &r["DeleteRequest"]["Key"]
                            } else {
                                put
                            }
                        })
                        .collect()
                };
                let keys = items.iter().flat_map(|i| leading(i, pk)).collect();
                out.push(dynamo(&operation, table_arn(t), keys));
            }
            out
        }
        "TransactWriteItems" | "TransactGetItems" => {
            let mut out = Vec::new();
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                let (kind, inner) = item
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .ok_or_else(|| format!("dynamodb:{operation}: an empty item"))?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => return Err(format!("dynamodb:{operation}: an item {other}")),
                };
                let key = if kind == "Put" {
                    &inner["Item"]
                } else {
                    &inner["Key"]
                };
                let t = inner["TableName"].as_str().unwrap_or_default();
                out.push(one(action, t, key));
            }
            out
        }
        _ => vec![dynamo(
            &operation,
            if table.is_empty() {
                "*".into()
            } else {
                table_arn(table)
            },
            Vec::new(),
        )],
    })
}

/// The partition key value a `Query`'s key condition names (`pk = :v` or `#n = :v`).
fn query_partition(body: &Value, key: &str) -> Option<String> {
    let expression = body["KeyConditionExpression"].as_str()?;
    expression
        .split(" AND ")
        .chain(expression.split(" and "))
        .find_map(|part| {
            let (lhs, rhs) = part.split_once('=')?;
            let lhs = lhs.trim().trim_start_matches('(');
            let rhs = rhs.trim().trim_end_matches(')');
            let name = match lhs.strip_prefix('#') {
                Some(_) => body["ExpressionAttributeNames"][lhs].as_str()?,
                None => lhs,
            };
            (name == key)
                .then(|| body["ExpressionAttributeValues"][rhs]["S"].as_str())
                .flatten()
                .map(str::to_string)
        })
}

/// An SNS or SES (query protocol) request's form parameters, decoded.
fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_accesses(service: &str, request: &Request) -> Result<Vec<Access>, String> {
    let params = form(&request.body);
    let action = params
        .get("Action")
        .ok_or_else(|| format!("{service}: a request without Action"))?;
    let mut access = Access {
        action: format!("{service}:{action}"),
        resource: "*".into(),
        context: BTreeMap::new(),
    };
    match (service, action.as_str()) {
        ("sns", _) => {
            if let Some(arn) = params.get("TopicArn").or_else(|| params.get("TargetArn")) {
                access.resource = arn.clone();
            }
        }
        ("ses", "SendEmail" | "SendRawEmail") => {
            let source = params.get("Source").cloned().unwrap_or_default();
            // `Name <address>`: the address is the identity.
            let address = source
                .rsplit_once('<')
                .map(|(_, a)| a.trim_end_matches('>').to_string())
                .unwrap_or(source);
            access.resource = format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/{address}");
            access
                .context
                .insert("ses:FromAddress".into(), vec![address]);
        }
        _ => {}
    }
    Ok(vec![access])
}

/// The service's own answer to a caller without the permission.
fn denied(service: &str, function: &str, what: &str) -> Vec<u8> {
    let message = format!(
        "User: arn:aws:sts::{ACCOUNT}:assumed-role/{function}-role/{function} is not authorized to perform: {what} because no identity-based policy allows it (the tests' permission gate)"
    );
    let (status, reason, content_type, kind, body) = match service {
        "dynamodb" => (
            400,
            "Bad Request",
            "application/x-amz-json-1.0",
            "AccessDeniedException",
            serde_json::json!({
                "__type": "com.amazon.coral.service#AccessDeniedException",
                "Message": message,
            })
            .to_string(),
        ),
        other => {
            let (code, ns) = if other == "sns" {
                (
                    "AuthorizationError",
                    "http://sns.amazonaws.com/doc/2010-03-31/",
                )
            } else {
                ("AccessDenied", "http://ses.amazonaws.com/doc/2010-12-01/")
            };
            (
                403,
                "Forbidden",
                "text/xml",
                code,
                format!(
                    "<ErrorResponse xmlns=\"{ns}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    message
                        .replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;"),
                    uuid::Uuid::new_v4()
                ),
            )
        }
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\nx-amzn-errortype: {kind}\r\nx-amzn-requestid: {}\r\ncontent-length: {}\r\n\r\n{body}",
        uuid::Uuid::new_v4(),
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, body: Value) -> Request {
        Request {
            method: "POST".into(),
            path: "/".into(),
            headers: vec![("X-Amz-Target".into(), format!("DynamoDB_20120810.{target}"))],
            body: body.to_string().into_bytes(),
        }
    }

    fn keys() -> TableKeys {
        TableKeys {
            partition: "pk".into(),
            indexes: [("by_side".to_string(), "side_pk".to_string())].into(),
        }
    }

    #[test]
    fn a_transaction_asks_for_each_item_s_own_action_and_key() {
        let r = request(
            "TransactWriteItems",
            serde_json::json!({"TransactItems": [
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "USER#1"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "HOST"}}}},
            ]}),
        );
        let a = dynamodb_accesses(&r, &keys()).unwrap();
        let seen: Vec<String> = a.iter().map(ToString::to_string).collect();
        assert_eq!(
            seen,
            [
                "dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/t dynamodb:LeadingKeys=[\"USER#1\"]",
                "dynamodb:ConditionCheckItem on arn:aws:dynamodb:us-east-1:123456789012:table/t dynamodb:LeadingKeys=[\"HOST\"]",
            ]
        );
    }

    #[test]
    fn a_batch_write_names_every_partition_and_an_index_query_its_index() {
        let r = request(
            "BatchWriteItem",
            serde_json::json!({"RequestItems": {"t": [
                {"PutRequest": {"Item": {"pk": {"S": "USER#1"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "GUESS#2"}}}},
            ]}}),
        );
        let a = dynamodb_accesses(&r, &keys()).unwrap();
        assert_eq!(a[0].context["dynamodb:LeadingKeys"], ["USER#1", "GUESS#2"]);
        let q = request(
            "Query",
            serde_json::json!({"TableName": "t", "IndexName": "by_side",
                "KeyConditionExpression": "#p = :p AND begins_with(side_sk, :s)",
                "ExpressionAttributeNames": {"#p": "side_pk"},
                "ExpressionAttributeValues": {":p": {"S": "USERS#host"}, ":s": {"S": "a"}}}),
        );
        let a = dynamodb_accesses(&q, &keys()).unwrap();
        assert_eq!(
            a[0].resource,
            "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/by_side"
        );
        assert_eq!(a[0].context["dynamodb:LeadingKeys"], ["USERS#host"]);
    }

    #[test]
    fn form_bodies_decode_as_the_query_protocol_encodes_them() {
        let f = form(b"Action=SendEmail&Source=No%20Reply%20%3Cno-reply%40x.org%3E&A=b+c");
        assert_eq!(f["Source"], "No Reply <no-reply@x.org>");
        assert_eq!(f["A"], "b c");
    }
}
