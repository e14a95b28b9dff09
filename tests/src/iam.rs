//! IAM policy evaluation, as far as the template's policies go: `Allow` and `Deny`
//! statements with `Action`/`NotAction`, `Resource`/`NotResource` (`*` and `?`
//! wildcards) and `Condition`s with the string operators, their `ForAllValues:` and
//! `ForAnyValue:` forms and `IfExists`. An explicit deny wins; otherwise a request
//! is allowed when some allow statement matches it, as IAM decides for a role
//! without boundaries or session policies.
//!
//! A function's statements come from template.yaml ([`function_policy`]); the gate
//! ([`crate::iam_gate`]) asks [`allows`] about every action a request needs.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::template::Template;

/// One statement of a policy.
#[derive(Clone, Debug)]
pub struct Statement {
    allow: bool,
    actions: Vec<String>,
    not_actions: Vec<String>,
    resources: Vec<String>,
    not_resources: Vec<String>,
    conditions: Vec<Condition>,
}

/// One operator of a statement's `Condition` on one key.
#[derive(Clone, Debug)]
struct Condition {
    set: SetOp,
    op: String,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAllValues,
    ForAnyValue,
}

/// What one action of a request asks for: e.g. `dynamodb:PutItem` on a table's ARN
/// with `dynamodb:LeadingKeys` the partition keys it writes.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `service:Action`.
    pub action: String,
    /// The resource's ARN (`*` where the action has none).
    pub resource: String,
    /// Condition keys and their values.
    pub context: BTreeMap<String, Vec<String>>,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)?;
        for (k, v) in &self.context {
            write!(f, " {k}={v:?}")?;
        }
        Ok(())
    }
}

const OPERATORS: [&str; 6] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
];

/// The statements of the function whose crate builds `binary` (its `Policies`,
/// intrinsics resolved for `template`'s deployment). A managed policy or a SAM
/// policy template is an error: the gate cannot know what it grants.
pub fn function_policy(template: &Template, binary: &str) -> Result<Vec<Statement>, String> {
    let resources = template.doc()["Resources"]
        .as_mapping()
        .ok_or("no Resources")?;
    let function = resources
        .values()
        .find(|r| {
            r["Type"] == "AWS::Serverless::Function"
                && r["Metadata"]["BuildProperties"]["Binary"] == binary
        })
        .ok_or_else(|| format!("no function builds {binary}"))?;
    let policies = template
        .resolve(&function["Properties"]["Policies"])?
        .unwrap_or(Value::Null);
    let mut out = Vec::new();
    for p in policies.as_sequence().into_iter().flatten() {
        let statements = p
            .get("Statement")
            .ok_or_else(|| format!("{binary}: a policy the gate cannot read: {p:?}"))?;
        match statements {
            Value::Sequence(s) => {
                for st in s {
                    out.push(statement(st).map_err(|e| format!("{binary}: {e}"))?);
                }
            }
            single => out.push(statement(single).map_err(|e| format!("{binary}: {e}"))?),
        }
    }
    Ok(out)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_string())
            .collect(),
        Some(x) => vec![x.as_str().unwrap_or_default().to_string()],
    }
}

fn statement(v: &Value) -> Result<Statement, String> {
    let allow = match v["Effect"].as_str() {
        Some("Allow") => true,
        Some("Deny") => false,
        other => return Err(format!("Effect {other:?}")),
    };
    let mut conditions = Vec::new();
    for (op, keys) in v
        .get("Condition")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
    {
        let full = op.as_str().unwrap_or_default();
        let (set, rest) = match full.split_once(':') {
            Some(("ForAllValues", r)) => (SetOp::ForAllValues, r),
            Some(("ForAnyValue", r)) => (SetOp::ForAnyValue, r),
            None => (SetOp::Single, full),
            Some(_) => return Err(format!("condition operator {full}")),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        if !OPERATORS.contains(&base) {
            return Err(format!(
                "condition operator {full}: not evaluated by the gate"
            ));
        }
        for (key, values) in keys.as_mapping().ok_or("a condition without keys")? {
            conditions.push(Condition {
                set,
                op: base.to_string(),
                if_exists,
                key: key.as_str().unwrap_or_default().to_string(),
                values: strings(Some(values)),
            });
        }
    }
    let st = Statement {
        allow,
        actions: strings(v.get("Action")),
        not_actions: strings(v.get("NotAction")),
        resources: strings(v.get("Resource")),
        not_resources: strings(v.get("NotResource")),
        conditions,
    };
    if st.actions.is_empty() == st.not_actions.is_empty()
        || st.resources.is_empty() == st.not_resources.is_empty()
    {
        return Err(format!(
            "a statement needs one of Action/NotAction and one of Resource/NotResource: {v:?}"
        ));
    }
    Ok(st)
}

/// Whether `statements` let a principal do `access`.
pub fn allows(statements: &[Statement], access: &Access) -> bool {
    let applies = |s: &&Statement| s.matches(access);
    !statements.iter().filter(|s| !s.allow).any(|s| applies(&s))
        && statements.iter().filter(|s| s.allow).any(|s| applies(&s))
}

impl Statement {
    fn matches(&self, a: &Access) -> bool {
        let action = |p: &String| glob(&p.to_ascii_lowercase(), &a.action.to_ascii_lowercase());
        let resource = |p: &String| glob(p, &a.resource);
        let action_ok = if self.actions.is_empty() {
            !self.not_actions.iter().any(action)
        } else {
            self.actions.iter().any(action)
        };
        let resource_ok = if self.resources.is_empty() {
            !self.not_resources.iter().any(resource)
        } else {
            self.resources.iter().any(resource)
        };
        action_ok && resource_ok && self.conditions.iter().all(|c| c.holds(&a.context))
    }
}

impl Condition {
    fn holds(&self, context: &BTreeMap<String, Vec<String>>) -> bool {
        let negated = self.op.contains("Not");
        let one = |v: &str| {
            let hit = self.values.iter().any(|p| match self.op.as_str() {
                "StringLike" | "StringNotLike" => glob(p, v),
                "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => p.eq_ignore_ascii_case(v),
                _ => p == v,
            });
            hit != negated
        };
        // Condition keys are case-insensitive.
        let values = context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .map(|(_, v)| v);
        match (self.set, values) {
            (SetOp::ForAllValues, None) => true,
            (SetOp::ForAllValues, Some(v)) => v.iter().all(|x| one(x)),
            (SetOp::ForAnyValue, None) => false,
            (SetOp::ForAnyValue, Some(v)) => v.iter().any(|x| one(x)),
            (SetOp::Single, None) => self.if_exists || negated,
            (SetOp::Single, Some(v)) => !v.is_empty() && v.iter().all(|x| one(x)),
        }
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> Vec<Statement> {
        let v: Value = serde_yaml::from_str(yaml).unwrap();
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|s| statement(s).unwrap())
            .collect()
    }

    fn access(action: &str, resource: &str, keys: &[&str]) -> Access {
        let mut context = BTreeMap::new();
        context.insert(
            "dynamodb:LeadingKeys".to_string(),
            keys.iter().map(|k| k.to_string()).collect(),
        );
        Access {
            action: action.into(),
            resource: resource.into(),
            context,
        }
    }

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(glob("USER#*", "USER#42"));
        assert!(glob("arn:aws:sns:*:*:*", "arn:aws:sns:us-east-1:1:t"));
        assert!(!glob("arn:aws:sns:*:*:*", "*"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(!glob("USER#*", "EMAIL#x"));
    }

    #[test]
    fn an_action_not_listed_or_a_key_outside_the_condition_is_refused() {
        let p = policy(
            r#"
- {Effect: Allow, Action: [dynamodb:GetItem], Resource: "arn:t"}
- Effect: Allow
  Action: dynamodb:PutItem
  Resource: "arn:t"
  Condition: {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["USER#*", "EMAIL#*"]}}
"#,
        );
        assert!(allows(&p, &access("dynamodb:GetItem", "arn:t", &["HOST"])));
        assert!(allows(
            &p,
            &access("dynamodb:PutItem", "arn:t", &["USER#1", "EMAIL#a"])
        ));
        assert!(!allows(
            &p,
            &access("dynamodb:PutItem", "arn:t", &["USER#1", "HOST"])
        ));
        assert!(!allows(
            &p,
            &access("dynamodb:UpdateItem", "arn:t", &["USER#1"])
        ));
        assert!(!allows(
            &p,
            &access("dynamodb:GetItem", "arn:other", &["USER#1"])
        ));
    }

    #[test]
    fn not_resource_and_a_single_valued_condition_and_deny_decide_as_in_iam() {
        let p = policy(
            r#"
- {Effect: Allow, Action: sns:Publish, NotResource: "arn:aws:sns:*:*:*"}
- {Effect: Allow, Action: ses:SendEmail, Resource: "arn:aws:ses:r:a:identity/*", Condition: {StringEquals: {"ses:FromAddress": "a@x"}}}
- {Effect: Deny, Action: "ses:*", Resource: "arn:aws:ses:r:a:identity/evil"}
"#,
        );
        assert!(allows(&p, &access("sns:Publish", "*", &[])));
        assert!(!allows(
            &p,
            &access("sns:Publish", "arn:aws:sns:r:a:topic", &[])
        ));
        let mut email = access("ses:SendEmail", "arn:aws:ses:r:a:identity/a@x", &[]);
        assert!(
            !allows(&p, &email),
            "no ses:FromAddress: a single-valued condition fails"
        );
        email
            .context
            .insert("ses:FromAddress".into(), vec!["a@x".into()]);
        assert!(allows(&p, &email));
        email
            .context
            .insert("ses:FromAddress".into(), vec!["b@x".into()]);
        assert!(!allows(&p, &email));
        email.resource = "arn:aws:ses:r:a:identity/evil".into();
        email
            .context
            .insert("ses:FromAddress".into(), vec!["a@x".into()]);
        assert!(!allows(&p, &email), "an explicit deny wins");
    }
}
