//! Passkeys and WebAuthn ceremonies.
//!
//! A user's passkeys are a map attribute of the user item (`passkeys`, by passkey
//! id), so that the read every sign-in makes of the user (the lockout slot) brings
//! them, and the write that accepts an assertion moves the counter in the same
//! conditional write as the rest of the success ([`crate::store::Spend::Passkey`]).
//! Each credential id is also claimed by an item of its own, `CREDENTIAL#<side
//! key>#<credential id>` → `user_id`, written in the same transaction as the
//! passkey: a passwordless sign-in finds its user with one `GetItem`, and no
//! credential is enrolled on two accounts of a side.
//!
//! A ceremony is one item, `CEREMONY#<id>`, with its logical expiry in
//! `valid_until` and the TTL a grace period later. Finishing it takes it with one
//! conditional write that sets `taken_by` (the finishing attempt's id) only while
//! nobody has: two finishes racing get it once, and the SDK's retry of a take whose
//! answer was lost finds its own id and gets it again.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::item::{
    self, Item, Reader, TTL, Update, VALID_UNTIL, corrupt, key, n, s, single_key, ttl_after,
};
use super::request::{UpdateCall, Updated, built};
use super::users::{patch_update, under_stamp};
use crate::clock::Timestamp;
use crate::ids::{AttemptId, CeremonyId, PasskeyId, UserId};
use crate::passkeys::{Asserted, Ceremony, MAX_PER_USER, Passkey, Purpose};
use crate::side::Side;
use crate::store::{PasskeyAdded, PasskeyStore, StoreError, UserStore};
use crate::user::UserPatch;

/// The user item's map of passkeys.
pub const PASSKEYS: &str = "passkeys";
const TAKEN_BY: &str = "taken_by";

fn credential_pk(side: &Side, credential_id: &str) -> String {
    format!("CREDENTIAL#{}#{credential_id}", side.key())
}

fn ceremony_pk(id: &CeremonyId) -> String {
    format!("CEREMONY#{id}")
}

/// One passkey as a map attribute.
fn passkey_value(p: &Passkey) -> AttributeValue {
    let mut m = HashMap::from([
        ("credential_id".to_string(), s(&p.credential_id)),
        ("name".to_string(), s(&p.name)),
        ("created_at".to_string(), n(p.created_at)),
        ("backed_up".to_string(), AttributeValue::Bool(p.backed_up)),
        ("counter".to_string(), n(p.counter)),
        ("credential".to_string(), s(&p.credential)),
    ]);
    if let Some(at) = p.last_used_at {
        m.insert("last_used_at".to_string(), n(at));
    }
    AttributeValue::M(m)
}

/// A user's passkeys as the map attribute (by id).
pub fn passkeys_value(list: &[Passkey]) -> AttributeValue {
    AttributeValue::M(
        list.iter()
            .map(|p| (p.id.to_string(), passkey_value(p)))
            .collect(),
    )
}

/// A user's passkeys from its item, oldest first (absent: none).
pub fn passkeys_from(i: &Item) -> Result<Vec<Passkey>, StoreError> {
    let reader = Reader(i);
    let Some(m) = reader.opt_map(PASSKEYS)? else {
        return Ok(Vec::new());
    };
    let mut list = m
        .iter()
        .map(|(id, v)| {
            let AttributeValue::M(p) = v else {
                return Err(corrupt(PASSKEYS, "holds a non-map"));
            };
            let r = Reader(p);
            Ok(Passkey {
                id: PasskeyId::from(id.as_str()),
                credential_id: r.s("credential_id")?,
                name: r.s("name")?,
                created_at: r.n("created_at")?,
                last_used_at: r.opt_n("last_used_at")?,
                backed_up: r.bool("backed_up")?,
                counter: r.n("counter")?,
                credential: r.s("credential")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(list)
}

/// One passkey of the map, by a placeholder for its id (ids may hold `-`, which a
/// placeholder may not).
fn passkey_path(u: Update, passkey_id: &PasskeyId) -> Update {
    let mut u = u.with_name(PASSKEYS);
    u.names
        .insert("#passkey".to_string(), passkey_id.to_string());
    u
}

/// What spending an assertion adds to the success write (see
/// [`crate::store::Spend::Passkey`]).
pub(super) fn spend_passkey(
    a: &Asserted,
    u: Update,
    condition: &mut String,
    now: Timestamp,
) -> Update {
    let mut u = passkey_path(u, &a.passkey_id)
        .with_name("counter")
        .with_name("backed_up")
        .with_name("last_used_at")
        .with_value("passkey_counter", n(a.counter))
        .with_value("passkey_previous", n(a.previous_counter))
        .with_value("passkey_backed_up", AttributeValue::Bool(a.backed_up))
        .with_value("passkey_used_at", n(now));
    u.sets.extend([
        "#passkeys.#passkey.#counter = :passkey_counter".to_string(),
        "#passkeys.#passkey.#backed_up = :passkey_backed_up".to_string(),
        "#passkeys.#passkey.#last_used_at = :passkey_used_at".to_string(),
    ]);
    condition.push_str(
        " AND attribute_exists(#passkeys.#passkey) AND #passkeys.#passkey.#counter = :passkey_previous",
    );
    u
}

fn ceremony_item(c: &Ceremony) -> Result<Item, StoreError> {
    let mut i = single_key(ceremony_pk(&c.id));
    let purpose =
        serde_json::to_string(&c.purpose).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    i.insert("purpose".to_string(), s(purpose));
    i.insert("state".to_string(), s(&c.state));
    i.insert(VALID_UNTIL.to_string(), n(c.expires_at));
    i.insert(TTL.to_string(), n(ttl_after(c.expires_at)));
    Ok(i)
}

fn ceremony_from(id: &CeremonyId, i: &Item) -> Result<Ceremony, StoreError> {
    let r = Reader(i);
    let purpose: Purpose = serde_json::from_str(&r.s("purpose")?)
        .map_err(|_| corrupt("purpose", "not a ceremony purpose"))?;
    Ok(Ceremony {
        id: id.clone(),
        purpose,
        state: r.s("state")?,
        expires_at: r.n(VALID_UNTIL)?,
    })
}

impl DynamoStore {
    /// The user's passkey write (add or remove) with `patch`, in a transaction
    /// beside `other` (the credential claim's put or delete).
    async fn passkey_transaction(
        &self,
        user_id: &UserId,
        u: Update,
        mut condition: String,
        patch: &UserPatch,
        other: TransactWriteItem,
    ) -> Result<Result<(), Vec<bool>>, StoreError> {
        let u = under_stamp(patch, u, &mut condition);
        let call = UpdateCall::new(key(item::keys::user_pk(user_id), item::keys::USER_SK), u)
            .when(condition);
        self.transact(vec![call.in_transaction(&self.table)?, other])
            .await
    }
}

#[async_trait]
impl PasskeyStore for DynamoStore {
    async fn add_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<PasskeyAdded, StoreError> {
        let claim = {
            let mut i = single_key(credential_pk(side, &passkey.credential_id));
            i.insert("user_id".to_string(), s(user_id));
            i.insert("passkey_id".to_string(), s(&passkey.id));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(i))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", item::PK)
                .build()
                .map_err(built)?;
            TransactWriteItem::builder().put(put).build()
        };
        // Users made before passkeys have no map: given an empty one first (a
        // harmless write, whoever makes it), as a path cannot be set in a map that
        // is not there.
        for first in [true, false] {
            let mut u = passkey_path(patch_update(patch), &passkey.id)
                .with_value("passkey", passkey_value(passkey))
                .with_value("max", n(MAX_PER_USER));
            u.sets.push("#passkeys.#passkey = :passkey".to_string());
            let condition = "attribute_exists(#pk) AND attribute_exists(#passkeys) \
                             AND size(#passkeys) < :max"
                .to_string();
            let refused = match self
                .passkey_transaction(user_id, u, condition, patch, claim.clone())
                .await?
            {
                Ok(()) => return Ok(PasskeyAdded::Done),
                Err(refused) => refused,
            };
            // A transaction's retry carries its first try's token: a refusal is never
            // this write's own success. Only a caller's retry can meet its own write,
            // and then the user carries the new stamp the patch wrote.
            let Some(now) = UserStore::user(self, user_id).await? else {
                return Ok(PasskeyAdded::Ended);
            };
            if patch.written_over(&now) {
                return Ok(PasskeyAdded::Done);
            }
            if !patch.stamp_holds(&now) {
                return Ok(PasskeyAdded::Ended);
            }
            if refused.get(1).copied().unwrap_or(false) {
                return Ok(PasskeyAdded::Taken);
            }
            if now.passkeys.len() >= MAX_PER_USER {
                return Ok(PasskeyAdded::Full);
            }
            if first {
                let u = Update::default()
                    .set_if_absent(PASSKEYS, AttributeValue::M(HashMap::new()))
                    .with_name(item::PK);
                let call =
                    UpdateCall::new(key(item::keys::user_pk(user_id), item::keys::USER_SK), u)
                        .when("attribute_exists(#pk)");
                if !matches!(self.update_item(call).await?, Updated::Applied(_)) {
                    return Ok(PasskeyAdded::Ended);
                }
            }
        }
        Err(StoreError::Corrupt(format!(
            "attribute {PASSKEYS}: a passkey could not be added to the map"
        )))
    }

    async fn rename_passkey(
        &self,
        user_id: &UserId,
        passkey_id: &PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut u = passkey_path(Update::default(), passkey_id)
            .with_name("name")
            .with_value("name", s(name));
        u.sets.push("#passkeys.#passkey.#name = :name".to_string());
        // Setting the same name again is harmless: a retried write is `true` too.
        let call = UpdateCall::new(key(item::keys::user_pk(user_id), item::keys::USER_SK), u)
            .when("attribute_exists(#passkeys.#passkey)");
        Ok(matches!(self.update_item(call).await?, Updated::Applied(_)))
    }

    async fn remove_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        let mut u = passkey_path(patch_update(patch), &passkey.id);
        u.removes.push("#passkeys.#passkey".to_string());
        let free = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(single_key(credential_pk(
                side,
                &passkey.credential_id,
            ))))
            .build()
            .map_err(built)?;
        let free = TransactWriteItem::builder().delete(free).build();
        let condition =
            "attribute_exists(#pk) AND attribute_exists(#passkeys.#passkey)".to_string();
        if self
            .passkey_transaction(user_id, u, condition, patch, free)
            .await?
            .is_ok()
        {
            return Ok(true);
        }
        // A caller's retry of a removal that went through finds its own new stamp.
        Ok(UserStore::user(self, user_id)
            .await?
            .is_some_and(|now| patch.written_over(&now)))
    }

    async fn credential_owner(
        &self,
        side: &Side,
        credential_id: &str,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .get(single_key(credential_pk(side, credential_id)))
            .await?
            .map(|i| Reader(&i).s("user_id").map(UserId::from))
            .transpose()?)
    }

    async fn forget_credentials(
        &self,
        side: &Side,
        credential_ids: &[String],
    ) -> Result<(), StoreError> {
        let items: Vec<Item> = credential_ids
            .iter()
            .map(|id| single_key(credential_pk(side, id)))
            .collect();
        self.delete_items("credential claims", &items).await
    }

    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        self.put(ceremony_item(ceremony)?).await
    }

    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        taker: &AttemptId,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError> {
        let u = Update::default()
            .set(TAKEN_BY, s(taker))
            .with_name(item::PK)
            .with_name(VALID_UNTIL)
            .with_value("now", n(now));
        let call = UpdateCall::new(single_key(ceremony_pk(id)), u)
            .when(
                "attribute_exists(#pk) AND #valid_until > :now \
                 AND (attribute_not_exists(#taken_by) OR #taken_by = :taken_by)",
            )
            .returning_new();
        match self.update_item(call).await? {
            Updated::Applied(i) => Ok(Some(ceremony_from(id, &i)?)),
            Updated::Refused(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkeys_are_read_back_as_written_oldest_first() {
        let p = |id: &str, at: i64, used: Option<i64>| Passkey {
            id: PasskeyId::from(id),
            credential_id: format!("cred-{id}"),
            name: format!("key {id}"),
            created_at: at,
            last_used_at: used,
            backed_up: at % 2 == 0,
            counter: 7,
            credential: "{\"cred\":{}}".into(),
        };
        let list = vec![p("b-1", 10, None), p("a_2", 20, Some(30))];
        let mut i = Item::new();
        i.insert(PASSKEYS.to_string(), passkeys_value(&list));
        assert_eq!(passkeys_from(&i).unwrap(), list);
        assert_eq!(passkeys_from(&Item::new()).unwrap(), Vec::new());
    }
}
