//! The DynamoDB adapter: every record in one table (`pk`, `sk`, both strings),
//! on-demand capacity, TTL on `expires_at`, and one global secondary index,
//! `by_side` (`side_pk`, `side_sk`, all attributes projected).
//!
//! # Items
//! | record | `pk` | `sk` | `side_pk` / `side_sk` (index) |
//! |---|---|---|---|
//! | user | `USER#<id>` | `USER` | `USERS#<scope key>` / email key |
//! | pending code | `USER#<id>` | `CODE#<purpose>` | |
//! | remembered browser | `USER#<id>` | `DEVICE#<device_id>` | |
//! | signed-in session | `USER#<id>` | `SESSION#<session_id>` | |
//! | passkeys | the user item's map `passkeys` (by passkey id) | | |
//! | passkey credential claim (→ `user_id`, `passkey_id`) | `CREDENTIAL#<scope key>#<credential id, base64url>` | `CREDENTIAL` | |
//! | WebAuthn ceremony in flight (purpose, state, `taken_by`) | `CEREMONY#<ceremony id>` | `CEREMONY` | |
//! | security event | `USER#<id>` | `EVENT#<at, 12 digits>#<event_id>` | `EVENTS#<scope key>` / `<at>#<event_id>` |
//! | email uniqueness (→ `user_id`, a copy of `password_hash`) | `EMAIL#<scope key>#<email key>` | `EMAIL` | |
//! | unknown email's failure counter | `GUESS#<keyed hash of scope and email>` | `GUESS` | |
//! | unknown email's failure event (no `user_id`, `scope`) | `GUESS#<keyed hash of scope and email>` | `EVENT#<at, 12 digits>#<event_id>` | none: no list reads it |
//! | tenant (name, feature, settings, lockout values) | `TENANT#<lower-case name>` | `TENANT` | |
//! | tenant listing | `TENANTS` | `<lower-case name>` | |
//! | host settings and lockout values | `HOST` | `HOST` | |
//! | send window (one per limit) | `WINDOW#<limit key>` | `WINDOW` | |
//! | "the local API created this table" | `CREATED_BY#local-api` | `CREATED_BY` | |
//!
//! Codes (but a password reset's), devices, sessions, windows and events carry `expires_at`
//! (epoch seconds), the TTL, so DynamoDB deletes them once dead. An event expires `EVENT_RETENTION_DAYS`
//! after it happened. An unknown email's counter has none: it is kept as an
//! account's count is (the parent module's doc says why).
//!
//! # Where things are
//! One module per record kind, each with its item codec and its port's
//! implementation: [`users`] (user and email items, the one mapping of a
//! `UserPatch` to attributes), [`attempts`] (the lockout writes: slot, lock,
//! success), [`codes`], [`devices`], [`sessions`], [`passkeys`] (passkeys, credential claims, ceremonies), [`events`], [`tenants`] (tenants, the
//! listing, the host item), [`limits`] (send windows). [`settings`] holds the
//! settings and lockout values as attributes and the per-field settings change;
//! [`item`] the keys, the attribute names, typed reads and the update-expression
//! builder; [`request`] the calls all of them make (one helper each for
//! `UpdateItem` and `TransactWriteItems`); [`table`]
//! creating and checking the table.
//!
//! # Expiry
//! Expiry is decided from the item, never by TTL. DynamoDB deletes an item whose
//! TTL has passed at any time from then to days later, so an answer that depended
//! on the item being there would flip at a random moment (an expired code went from
//! 410 `code_expired` to 401 `invalid_code`, counted toward the lockout). Codes and
//! devices keep their logical expiry in `valid_until`, windows in `window_end`, and
//! `expires_at` (the TTL) is a day later ([`item::TTL_GRACE_SECONDS`]); an item
//! from before the grace period has only `expires_at`, read as its expiry. Nothing
//! is decided from an event's expiry: a listing may show one TTL has not taken yet.
//! A password reset code has no TTL at all: a grace period only delays the flip,
//! and the reset names an email, with no sign-in whose end could tell a swept code
//! from one never sent. It stays until a new one replaces it or it is spent, so its
//! right but expired code answers 410 (nothing counted) however late it comes.
//!
//! # Paging a side: the `by_side` index
//! An admin lists its side's users by email prefix, and its side's events newest
//! first, without a `Scan`: each user item and each event item also carries index
//! keys, so one side's users are one index partition sorted by email key (a
//! prefix is `begins_with` on the sort key) and its events another, sorted by time.
//! The side in the key comes from the caller's stored user, never from the request,
//! and a cursor only says where in that partition to start, so no cursor reaches
//! another side. The email-uniqueness item stays as it was: reshaping it into one
//! partition per side would move every existing address and funnel every login of a
//! side through one partition key.
//!
//! The index is eventually consistent (usually well under a second behind). For an
//! admin's list that is harmless: a user registered or locked a moment ago may show
//! a moment later, and nothing is decided from the list, since unlock and reset read
//! the user item strongly. A user's own events, and an admin's events of one user,
//! are read from the user's partition with a strongly consistent `Query` instead.
//! One side's events share one index partition key; DynamoDB splits it by sort key
//! under load, but a side writing well over a thousand events a second (sign-ins
//! included) would need the key sharded. Users written before the index existed
//! (tables made before v1.1) lack the index keys and are not listed until rewritten;
//! `ensure_table` adds the index to such a table.
//!
//! # Lockout: a slot before the answer
//! The rules are in the parent module's doc (`store/mod.rs`); here is what they cost.
//! The user item holds `failed_count` (attempts counted since the last success or
//! lock, in-flight ones included), `failure_streak` (failures since the last
//! success, across locks), `lockout_end`, and the ids of the attempts whose slots
//! are counted and not yet given back (`held_slots`, a string set no larger than
//! the count, emptied by every reset of it).
//! - `take_slot`: one `UpdateItem`, `ADD failed_count 1, failure_streak 1,
//!   held_slots {attempt}` under `not locked AND failed_count < max AND
//!   failure_streak < 100 AND NOT contains(held_slots, attempt)` (and
//!   `pending_sign_in = sid` for a second factor), returning the new item: the slot
//!   is also the read of the user. A refusal returns the old item, which says why
//!   (locked, sign-in ended, all slots held) or that it was this attempt's own slot
//!   written by a try whose answer was lost (its id is held).
//! - `lock`: one `UpdateItem` under `not locked`, or for the hard lock `not locked
//!   OR lockout_end < until`: the 30-day lock replaces a shorter one (the raced
//!   hundredth failure); no lock shortens or extends another otherwise. `lock` is
//!   a `SET`, so a retry is harmless.
//! - `succeed`: one `TransactWriteItems` whose client request token is a hash of
//!   the attempt id (and of what it gives back), so DynamoDB answers a retry of a
//!   write that applied as applied, without applying it again, for ten minutes,
//!   whatever other writes landed on the user meanwhile. Its update spends a TOTP
//!   step (`totp_last_step < step`) or a recovery code (`DELETE` from the set,
//!   `contains`), ends the sign-in, applies the patch and resets the counts (and
//!   `held_slots`), under `not locked` (and `pending_sign_in = sid`); an emailed or
//!   texted code is its own item, deleted under a condition in the same
//!   transaction. Retried on a transaction conflict. A right password before a
//!   second factor gives its slot back instead (`ADD -1` on each count, each under
//!   `> 0`, and the count's only while `held_slots` still holds the attempt: a
//!   lock, an unlock or a success may have reset the count meanwhile, and a
//!   failure counted after that reset must stay counted; refused for that alone,
//!   the write is retried, under another token, giving back only what is still
//!   counted), so no count goes below zero.
//! - `unlock`: a one-item transaction too, its token naming the administrator's
//!   request (a random id) and the update, so a retried unlock never clears a
//!   failure counted after it, and a second unlock within the same second is
//!   still applied.
//!
//! A one-item transaction costs two write units where an `UpdateItem` costs one:
//! that is the price of a retry that cannot be told from a new request otherwise
//! (the item can hold only so many ids of past requests).
//!
//! # Lockout values per side, and why the tenant item holds the host's
//! Login reads a user's policy in one item (below), and the lockout values are
//! part of the policy: counting an attempt atomically against the limit needs them before
//! the first attempt is judged, so they cannot wait for a failure. A tenant
//! without values of its own follows the host's, so the tenant item holds both:
//! `lockout` (the tenant admin's, if set) and `host_lockout` with
//! `host_lockout_version` (a copy of the host's). Reading the host's item too,
//! even in the same `BatchGetItem`, would make every tenant login read two items.
//!
//! What keeps the copies right is that the host item's `lockout_version` orders
//! every host change, and every copy says which version it holds:
//! - A host change is one `UpdateItem` on `HOST` (`SET lockout`, `ADD
//!   lockout_version 1`, returning the new version *v*), then a `Query` of the
//!   `TENANTS` listing and, per tenant, `UpdateItem SET host_lockout, host_lockout_version = v`
//!   on condition that the stored version is older. Two changes racing therefore
//!   leave the newer values in every tenant, whichever copy lands last.
//! - Creating a tenant reads `HOST`, writes the tenant with that copy and
//!   version, and checks in the same transaction (`ConditionCheck` on `HOST`)
//!   that the version has not moved. A host change that commits first makes the
//!   creation read again (up to 5 times); one that commits after finds the new
//!   tenant in its listing, since the listing item is in the same transaction.
//! - A host change that fails half way (the function timed out, DynamoDB refused)
//!   answers 503; the admin's retry bumps the version again and copies to all.
//!   Until then some tenants follow the older values: the window is one failed
//!   admin request, never a silent split.
//!
//! The copies are made 16 at a time; at about 5 ms each a function with a 10 s
//! timeout reaches some 10,000 tenants per change. Tenants created before the
//! `TENANTS` listing existed are not in it: list them once
//! (`PutItem pk=TENANTS, sk=<key>` for each `TENANT#` item) when upgrading.
//!
//! # Contention
//! No hot item is rewritten by read-then-conditional-put. Each send limit is its
//! own counter, counted by one conditional `UpdateItem`:
//! `ADD count 1` on `attribute_not_exists(pk) OR (window_end > :now AND count < :max)`,
//! so concurrent sends in one tenant all count and none fails for racing another;
//! the cap holds because the condition and the add are one atomic step. A window
//! that has ended is started again by a second conditional write (`window_end =` the
//! old end), once per window; a sender that loses that race counts in the new window.
//! The limits of one send are counted at once; if one refuses, the others are given
//! back (`ADD count -1` on the same `window_end`, as a one-item `TransactWriteItems`
//! with a client request token so that the SDK's retry of it applies once). The cost
//! of a give-back: a concurrent send may briefly see one send too many and be refused,
//! the safe side, or meet it in flight and count again.
//!
//! Settings are never rewritten whole from a read: a change sets only the fields it
//! changes inside the `settings` map, each on condition that it still holds what the
//! admin read (lists compared by size and element), so two admins changing different
//! fields both keep their change and a change to a moved field is refused (409).
//! Authenticator writes are conditioned on the authenticator the handler decided on.
//!
//! # The policy item is read every time (no cache)
//! Every request of a host user reads `HOST` (a tenant user, its tenant item),
//! strongly consistently. A partition serves about 3,000 strongly consistent reads a
//! second, so one host's sign-ins and sends would reach that around 1,000 sign-ins a
//! second (about 3 policy reads each), far above the API's default throttle (50
//! requests a second, burst 100). A per-process cache with a version check would
//! still need a read per request to check the version, saving nothing; a cache
//! trusted for N seconds would apply a tightened policy (SMS disallowed, 2FA forced)
//! up to N seconds late in every warm Lambda, and the saving measured in
//! BENCHMARKS.md (one `GetItem` a request, a few ms in-region, often beside the
//! user read) does not buy that. Decided: no cache; revisit only if one policy
//! partition is measured hot.
//!
//! # Retries
//! The SDK retries throttled and failed calls, and (`timeouts::TransactionConflicts`)
//! a plain write refused with `TransactionConflictException` because a transaction
//! on the same item was in flight. A retried counter `ADD` may count one
//! send twice; that errs on the refusing side and ends with the window.
//!
//! A conditional write whose first try went through and whose answer was lost fails
//! its condition on the retry. Each one that answers from that condition recognises
//! itself: the lockout writes by their attempt ids; a settings change and an
//! authenticator write by the fresh `write_id` each call writes with its change
//! ([`item::WRITE_ID`]), read back from the refused write's old item; a session's
//! rotation by its `rotation_id`, likewise; forgetting one browser (and ending one
//! session) is a one-item `TransactWriteItems`, whose retries carry the same
//! client request token and are answered as the first try's success.
//!
//! A request's calls share its deadline (`timeouts::within_deadline`): an SDK
//! interceptor starts no attempt, first or retry, that could not end before it.
//!
//! # Round trips
//! Every read of the table is strongly consistent: a sign-in must see the write that
//! ended the previous one.
//! - Two-factor policy: one `GetItem` (`HOST`, or the tenant item, which holds the
//!   host's feature for the tenant and the tenant admin's settings together).
//! - `user` (every authenticated call): one `GetItem`.
//! - `user_by_email`: two sequential `GetItem`s (email item, then user item). The
//!   email item is what makes the address unique, in the same transaction as the
//!   user; a GSI would save a hop but is only eventually consistent, so a login
//!   right after registering could miss.
//! - Login: policy ‖ `login_record` (the email item, with a copy of the password
//!   hash): one round trip before the password check. Argon2 then runs beside
//!   `take_slot` on the user item (which returns the user), and the answer waits for
//!   both; a right password ends with `succeed`. So the critical path is one round
//!   trip, Argon2 (which hides the slot's round trip), and the success write. It
//!   costs a write per sign-in that the old read did not (two `UpdateItem`s instead
//!   of one `GetItem`), and 100-odd bytes on the email item. The copy is written with
//!   the user and refreshed by `update_user` when the hash changes; if it is ever
//!   stale, login checks again against the user item's hash, which is the truth.
//! - Password reset: policy ‖ `login_record`, then the code's `GetItem` ‖ `take_slot`
//!   (which returns the user), then the failure's writes or the success. An email
//!   without an account makes the same requests: its slot is its `GUESS#` counter and
//!   its code read (under the keyed hash, which no user id is) finds nothing.
//! - `create_user`: one `TransactWriteItems`. `create_tenant`:
//!   a `GetItem` of `HOST`, then one `TransactWriteItems` (repeated only when the
//!   host's lockout values changed in between).
//! - `host` (the host's policy: settings and lockout values): one `GetItem`.
//! - `set_host_settings`, the host's first settings change: one `UpdateItem` (never a put, which would drop the
//!   lockout values). `set_host_lockout`: one `UpdateItem`, one `Query` of the
//!   listing (per 1 MB page), one `UpdateItem` per tenant. `set_tenant_lockout`:
//!   one `UpdateItem`.
//! - `take_slot`, `lock`, `unlock`, `succeed` (one `TransactWriteItems` for a sent code),
//!   `update_user`, `update_user_if_authenticator`, `take_code`, feature and settings
//!   writes: one conditional write (the host's first settings change: two).
//! - A send: one `UpdateItem` per limit, all at once (a second once per window that
//!   ended; a give-back, one single-item `TransactWriteItems`, each when one
//!   refuses).
//! - Remembered browsers: a user keeps at most `devices::MAX_PER_USER` (10), the
//!   oldest forgotten as another is remembered, so a read of them is bounded whatever
//!   the history. `put_device`: `PutItem` ‖ a `Query` of the others, then, only at
//!   the bound, one `BatchWriteItem` deleting the oldest. `devices`: one `Query` of
//!   at most 25 items; `delete_device`: one `TransactWriteItems` of one delete (see
//!   Retries); `delete_devices`: that `Query` and one `BatchWriteItem`. A partition
//!   filled before the bound drains as its items expire (the remember lifetime and
//!   a day); until then those reads take 25 of its items.
//! - Sessions: as remembered browsers, bounded by `sessions::MAX_PER_USER` (20).
//!   `put_session`: `PutItem` ‖ a `Query` of the others, then, only at the bound, one
//!   `BatchWriteItem`. `user_and_session` (every request with an access token): the
//!   user's and the session's `GetItem` side by side, one round trip. `session`: one
//!   `GetItem`; `sessions`: one `Query` of at most 25 items. `rotate_session`: one
//!   conditional `UpdateItem` (`generation = :from AND valid_until > :now`), so of
//!   two refreshes of one token exactly one wins; a refusal returns the old item,
//!   and one holding this rotation's `rotation_id` and the next generation was this
//!   rotation's own first try (see Retries). `restamp_session`: one conditional
//!   `UpdateItem`. `end_session`: one `TransactWriteItems` of one delete (as
//!   `delete_device`); `end_sessions`: a `Query` and one `BatchWriteItem`, again
//!   while a read comes back full (at most 8 times).
//! - `users_in`, `side_events`: one index `Query` a page; `user_events`: one table
//!   `Query` a page. Each asks for one item more than the page so that the last
//!   page says so; a page DynamoDB cut short (1 MB, or a `type` filter) costs
//!   another `Query`, at most eight.
//! - `record_events`: one `PutItem`, or one `BatchWriteItem` for the events one
//!   request causes together (a sign-in with a recovery code, a lockout).
//!   `record_unknown_events` makes the same requests for as many events, so an
//!   unknown email's refusal costs what an account's does.

mod attempts;
mod bounded;
#[cfg(test)]
mod codec_tests;
mod codes;
mod devices;
mod events;
mod item;
mod limits;
mod passkeys;
mod request;
mod sessions;
mod settings;
mod table;
mod tenants;
mod users;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;

use crate::config::{ConfigError, Env};

pub use self::table::Ensured;

/// A [`super::Store`] over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The store `TABLE_NAME` (and `AWS_ENDPOINT_URL_DYNAMODB` or `DYNAMODB_ENDPOINT`)
/// name. Does not create the table: in AWS the template owns it.
pub async fn store_from_env(
    env: &dyn Env,
    sdk: &aws_config::SdkConfig,
) -> Result<Arc<dyn super::Store>, ConfigError> {
    Ok(Arc::new(DynamoStore::from_env(env, sdk)?))
}

impl DynamoStore {
    /// A store over `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The store `TABLE_NAME` names; the endpoint is `AWS_ENDPOINT_URL_DYNAMODB`
    /// or `DYNAMODB_ENDPOINT` when set (DynamoDB Local), else the SDK's default.
    pub fn from_env(env: &dyn Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table = env.get("TABLE_NAME").ok_or_else(|| {
            ConfigError::new(
                "TABLE_NAME",
                "required: the DynamoDB table to store users in",
            )
        })?;
        let mut config = crate::timeouts::dynamodb(sdk);
        if let Some(url) = endpoint_override(env) {
            config = config.endpoint_url(url);
        }
        Ok(Self::new(Client::from_conf(config.build()), table))
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The endpoint a store built from `env` talks to, where one is set: the SDK's own
/// variable only where the SDK would honour it (not under
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), then ours (`DYNAMODB_ENDPOINT`, the local
/// API's and the tests'), which always counts.
fn endpoint_override(env: &dyn Env) -> Option<String> {
    let ignore_sdk_endpoints = env
        .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    env.get("AWS_ENDPOINT_URL_DYNAMODB")
        .filter(|_| !ignore_sdk_endpoints)
        .or_else(|| env.get("DYNAMODB_ENDPOINT"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_store_without_a_table_name_is_refused_naming_the_variable() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let env = HashMap::from([(
            "DYNAMODB_ENDPOINT".to_string(),
            "http://127.0.0.1:1".to_string(),
        )]);
        assert_eq!(
            DynamoStore::from_env(&env, &sdk).unwrap_err().var,
            "TABLE_NAME"
        );
    }

    #[test]
    fn the_sdks_dynamodb_endpoint_variable_counts_only_where_the_sdk_would_honour_it() {
        let endpoint_of = |vars: &[(&str, &str)]| {
            let env: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            endpoint_override(&env)
        };
        let sdk_var = ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1");
        let ours = ("DYNAMODB_ENDPOINT", "http://127.0.0.1:2");
        let ignore = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
        assert_eq!(
            endpoint_of(&[sdk_var]).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(endpoint_of(&[sdk_var, ignore]), None);
        assert_eq!(
            endpoint_of(&[sdk_var, ours, ignore]).as_deref(),
            Some("http://127.0.0.1:2")
        );
    }
}
