//! List routes: query parameters, page sizes and cursors. A cursor is the store's
//! [`PageKey`] signed with the server's HMAC key together with what the list was
//! (route, side or user, filters): a cursor edited by hand, or made for another
//! side, another user or other filters, is refused with 400 rather than followed.
//! The store rebuilds its start key inside the caller's own side whatever a cursor
//! says, so even a forged one could only page the caller's own data; the signature
//! makes that a clear error instead of a silent restart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{ApiError, Request};
use crate::crypto::{HashKey, constant_time_eq};
use crate::ids::UserId;
use crate::store::PageKey;

/// Longest query string value read, in octets; longer is a 400. Octets, not
/// characters: a value may become part of a DynamoDB key (`USER#<id>`, at most 2048
/// bytes), and 1024 four-byte characters would pass a character count.
const MAX_PARAM_OCTETS: usize = 1024;

/// The first value of query parameter `name`, percent-decoded (`+` is a space);
/// `None` when absent or empty.
pub fn query_param(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let Some(query) = req.uri().query() else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k).as_deref() != Some(name) {
            continue;
        }
        let value = decode(v).ok_or_else(|| {
            ApiError::invalid_field(
                name,
                format!("the parameter {name} is not valid percent-encoded UTF-8"),
            )
        })?;
        if value.len() > MAX_PARAM_OCTETS {
            return Err(ApiError::invalid_field(
                name,
                format!("the parameter {name} is longer than {MAX_PARAM_OCTETS} octets"),
            ));
        }
        return Ok(Some(value).filter(|v| !v.is_empty()));
    }
    Ok(None)
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The `limit` parameter: `min..=max`, `default` when absent; anything else is a 400 naming it.
pub fn limit(req: &Request, default: usize, max: usize) -> Result<usize, ApiError> {
    match query_param(req, "limit")? {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field(
                "limit",
                format!("limit must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// A cursor for the page after `key`, valid only for the list `binding` names.
pub fn encode_cursor(hash_key: &HashKey, binding: &[&str], key: &PageKey) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::json!([key.sort, key.user_id]).to_string());
    format!("{payload}.{}", sign(hash_key, binding, &payload))
}

/// The `cursor` parameter, checked against `binding`; `None` when absent.
pub fn cursor(
    req: &Request,
    hash_key: &HashKey,
    binding: &[&str],
) -> Result<Option<PageKey>, ApiError> {
    let Some(text) = query_param(req, "cursor")? else {
        return Ok(None);
    };
    let refused = || {
        ApiError::invalid_field(
            "cursor",
            "the cursor is not one this list gave out; start again without it",
        )
    };
    let (payload, mac) = text.split_once('.').ok_or_else(refused)?;
    if !constant_time_eq(mac, &sign(hash_key, binding, payload)) {
        return Err(refused());
    }
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refused())?;
    let (sort, user_id): (String, UserId) = serde_json::from_slice(&json).map_err(|_| refused())?;
    Ok(Some(PageKey { sort, user_id }))
}

fn sign(hash_key: &HashKey, binding: &[&str], payload: &str) -> String {
    let mut parts = vec!["cursor"];
    parts.extend_from_slice(binding);
    parts.push(payload);
    hash_key.hash(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str) -> Request {
        http::Request::builder().uri(uri).body(Vec::new()).unwrap()
    }

    #[test]
    fn query_parameters_are_decoded_and_empty_ones_are_absent() {
        let r = req("/users?email=J%C3%B6+x&cursor=&limit=5");
        assert_eq!(query_param(&r, "email").unwrap().as_deref(), Some("Jö x"));
        assert_eq!(query_param(&r, "cursor").unwrap(), None);
        assert_eq!(query_param(&r, "other").unwrap(), None);
        assert_eq!(
            query_param(&req("/users?email=%zz"), "email")
                .unwrap_err()
                .into_response()
                .status(),
            400
        );
    }

    #[test]
    fn a_limit_outside_one_to_the_maximum_is_a_400() {
        assert_eq!(limit(&req("/users"), 50, 100).unwrap(), 50);
        assert_eq!(limit(&req("/users?limit=100"), 50, 100).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            assert!(
                limit(&req(&format!("/users?limit={bad}")), 50, 100).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_cursor_works_only_for_the_list_it_was_made_for_and_only_untouched() {
        let k = HashKey::random().unwrap();
        let key = PageKey {
            sort: "jo@example.com".into(),
            user_id: "u1".into(),
        };
        let c = encode_cursor(&k, &["users", "t:acme", "jo"], &key);
        let with = |c: &str| req(&format!("/users?cursor={c}"));
        assert_eq!(
            cursor(&with(&c), &k, &["users", "t:acme", "jo"]).unwrap(),
            Some(key)
        );
        assert!(
            cursor(&with(&c), &k, &["users", "t:other", "jo"]).is_err(),
            "another side"
        );
        assert!(
            cursor(&with(&c), &k, &["users", "t:acme", ""]).is_err(),
            "another filter"
        );
        let (payload, mac) = c.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(r#"["zz@example.com","u1"]"#);
        assert!(
            cursor(
                &with(&format!("{forged}.{mac}")),
                &k,
                &["users", "t:acme", "jo"]
            )
            .is_err(),
            "edited payload"
        );
        assert!(
            cursor(&with(payload), &k, &["users", "t:acme", "jo"]).is_err(),
            "no signature"
        );
        assert!(cursor(&with("garbage"), &k, &["users", "t:acme", "jo"]).is_err());
    }
}
