//! Signed-in sessions, under their user's partition beside the user item, so that
//! the user and one session are read side by side and a user's sessions are one
//! `Query`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem};

use super::DynamoStore;
use super::bounded::Bounded;
use super::item::Update;
use super::item::{self, Item, Reader, TTL, VALID_UNTIL, key, keys, n, s, ttl_after, valid_until};
use super::request::{UpdateCall, Updated, built};
use crate::amr::Amr;
use crate::clock::Timestamp;
use crate::ids::{SessionId, UserId};
use crate::sessions::{MAX_PER_USER, Session};
use crate::store::{Rotation, SessionStore, StoreError, UserStore};
use crate::user::User;

const GENERATION: &str = "generation";
const REFRESH_HASH: &str = "refresh_hash";
const ROTATION_ID: &str = "rotation_id";
const LAST_USED_AT: &str = "last_used_at";
const SECURITY_STAMP: &str = "security_stamp";

/// A session's item, under its user's partition.
pub fn session_item(x: &Session) -> Item {
    let mut i = key(keys::user_pk(&x.user_id), keys::session_sk(&x.session_id));
    i.insert("user_id".to_string(), s(&x.user_id));
    i.insert("session_id".to_string(), s(&x.session_id));
    i.insert(GENERATION.to_string(), n(x.generation));
    i.insert(REFRESH_HASH.to_string(), s(&x.refresh_hash));
    i.insert(SECURITY_STAMP.to_string(), s(&x.security_stamp));
    i.insert(
        "amr".to_string(),
        AttributeValue::L(x.amr.iter().map(|a| s(a.as_str())).collect()),
    );
    i.insert("auth_time".to_string(), n(x.auth_time));
    if let Some(at) = x.mfa_at {
        i.insert("mfa_at".to_string(), n(at));
    }
    i.insert("created_at".to_string(), n(x.created_at));
    i.insert(LAST_USED_AT.to_string(), n(x.last_used_at));
    i.insert(VALID_UNTIL.to_string(), n(x.expires_at));
    i.insert(TTL.to_string(), n(ttl_after(x.expires_at)));
    if let Some(ip) = &x.ip {
        i.insert("ip".to_string(), s(ip));
    }
    if let Some(ua) = &x.user_agent {
        i.insert("user_agent".to_string(), s(ua));
    }
    // Empty until the first rotation; left out, as DynamoDB Local before 1.13 takes no empty string.
    if !x.rotation_id.is_empty() {
        i.insert(ROTATION_ID.to_string(), s(&x.rotation_id));
    }
    i
}

/// A session from its item.
pub fn session_from(i: &Item) -> Result<Session, StoreError> {
    let r = Reader(i);
    let amr = r
        .string_list("amr")?
        .iter()
        .map(|name| {
            Amr::from_name(name).ok_or_else(|| item::corrupt("amr", "holds an unknown method"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Session {
        user_id: r.s("user_id")?.into(),
        session_id: r.s("session_id")?.into(),
        generation: r.n(GENERATION)?,
        refresh_hash: r.s(REFRESH_HASH)?,
        security_stamp: r.s(SECURITY_STAMP)?,
        amr,
        auth_time: r.n("auth_time")?,
        mfa_at: r.opt_n("mfa_at")?,
        created_at: r.n("created_at")?,
        last_used_at: r.n(LAST_USED_AT)?,
        expires_at: valid_until(&r)?,
        ip: r.opt_s("ip")?,
        user_agent: r.opt_s("user_agent")?,
        rotation_id: r.opt_s(ROTATION_ID)?.unwrap_or_default(),
    })
}

/// The most session items one read takes: a user keeps [`MAX_PER_USER`] (a few
/// more for a moment when sign-ins race), and this many fit one `BatchWriteItem`,
/// so listing is one `Query` and ending them all one `Query` and one batch.
const READ_LIMIT: usize = 25;
const _: () = assert!(MAX_PER_USER < READ_LIMIT);

/// How many reads and batches ending all of a user's sessions makes at most. One
/// does it unless many sign-ins raced past the bound; whatever such a race leaves
/// is refused anyway once the stamp changed (a session works only under the stamp
/// it was started under), and expires with its lifetime.
const END_ALL_ROUNDS: usize = 8;

/// Sessions as a bounded kind (see [`super::bounded`]).
const SESSIONS: Bounded = Bounded {
    prefix: keys::SESSION_PREFIX,
    bound: MAX_PER_USER,
    read_limit: READ_LIMIT,
    what: "sessions",
};

#[async_trait]
impl SessionStore for DynamoStore {
    async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        self.put_bounded(&SESSIONS, &session.user_id, session_item(session))
            .await
    }

    async fn session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Option<Session>, StoreError> {
        self.get(key(keys::user_pk(user_id), keys::session_sk(session_id)))
            .await?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError> {
        let mut list = self
            .bounded_items(&SESSIONS, user_id)
            .await?
            .iter()
            .map(session_from)
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_by(|a, b| (a.created_at, &a.session_id).cmp(&(b.created_at, &b.session_id)));
        Ok(list)
    }

    async fn user_and_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(Option<User>, Option<Session>), StoreError> {
        // Two strongly consistent `GetItem`s side by side: one round trip, and the
        // `GetItem` every function may already make (a `BatchGetItem` would be one
        // request but another permission, and needs its unprocessed keys retried).
        let (user, session) = tokio::join!(
            UserStore::user(self, user_id),
            SessionStore::session(self, user_id, session_id)
        );
        Ok((user?, session?))
    }

    async fn rotate_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        rotation: &Rotation,
    ) -> Result<bool, StoreError> {
        let Some(next) = rotation.from_generation.checked_add(1) else {
            return Ok(false);
        };
        let u = Update::default()
            .set(GENERATION, n(next))
            .set(REFRESH_HASH, s(&rotation.refresh_hash))
            .set(ROTATION_ID, s(&rotation.rotation_id))
            .set(LAST_USED_AT, n(rotation.now))
            .with_name(item::PK)
            .with_name(VALID_UNTIL)
            .with_value("from", n(rotation.from_generation))
            .with_value("now", n(rotation.now));
        let call = UpdateCall::new(key(keys::user_pk(user_id), keys::session_sk(session_id)), u)
            .when("attribute_exists(#pk) AND #generation = :from AND #valid_until > :now");
        // The user's stamp and lock, checked in the same write: a sign-out everywhere
        // or a password change that lands while this refresh is judged refuses it.
        let user = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::USER_SK)))
            .condition_expression(
                "#stamp = :stamp AND (attribute_not_exists(#lock) OR #lock <= :now)",
            )
            .expression_attribute_names("#stamp", item::attr::SECURITY_STAMP)
            .expression_attribute_names("#lock", item::attr::LOCKOUT_END)
            .expression_attribute_values(":stamp", s(&rotation.user_stamp))
            .expression_attribute_values(":now", n(rotation.now))
            .build()
            .map_err(built)?;
        let tx = vec![
            TransactWriteItem::builder().condition_check(user).build(),
            call.in_transaction(&self.table)?,
        ];
        // A transaction's retries carry its first try's client request token: a retry
        // whose first try applied (its answer lost) is answered as that success. A
        // refusal may still be this rotation's own (a caller's retry after a timeout):
        // then the session holds its id and the next generation.
        if self.transact(tx).await?.is_ok() {
            return Ok(true);
        }
        Ok(self
            .session(user_id, session_id)
            .await?
            .is_some_and(|now| now.rotation_id == rotation.rotation_id && now.generation == next))
    }

    async fn restamp_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        stamp: &str,
    ) -> Result<bool, StoreError> {
        let u = Update::default()
            .set(SECURITY_STAMP, s(stamp))
            .with_name(item::PK);
        let call = UpdateCall::new(key(keys::user_pk(user_id), keys::session_sk(session_id)), u)
            // A session ended meanwhile stays ended rather than coming back as a stub.
            // Setting the same stamp again is harmless, so a retried write is `true` too.
            .when("attribute_exists(#pk)");
        Ok(matches!(self.update_item(call).await?, Updated::Applied(_)))
    }

    async fn end_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // A transaction of one delete, as `delete_device` (which says why): its
        // retries carry the first try's client request token, so a retry after a
        // lost answer is answered as that try's success, not as "no such session".
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::user_pk(user_id),
                keys::session_sk(session_id),
            )))
            // Past its TTL the item may be swept or not: ended either way.
            .condition_expression("attribute_exists(#pk) AND #ttl > :now")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(built)?;
        let tx = vec![TransactWriteItem::builder().delete(delete).build()];
        Ok(self.transact(tx).await?.is_ok())
    }

    async fn end_sessions(&self, user_id: &UserId) -> Result<(), StoreError> {
        for _ in 0..END_ALL_ROUNDS {
            let items = self.bounded_items(&SESSIONS, user_id).await?;
            self.delete_items(SESSIONS.what, &items).await?;
            // A read cut at the limit may have left some behind: read again.
            if items.len() < READ_LIMIT {
                break;
            }
        }
        Ok(())
    }
}
