//! Users: the user item, the email item that makes an address unique and
//! points at it, and the writes a [`UserPatch`] makes.

use crate::ids::{AttemptId, RequestId, SignInId, UserId};
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem};

use super::DynamoStore;
use super::item::Update;
use super::item::{
    self, Item, Reader, SIDE_PK, SIDE_SK, attr, corrupt, key, keys, n, s, single_key, string_set,
};
use super::passkeys::{PASSKEYS, passkeys_from, passkeys_value};
use super::request::{PageQuery, UpdateCall, built, side_page_key};
use crate::clock::Timestamp;
use crate::email::Email;
use crate::side::Side;
use crate::store::{
    LoginRecord, Page, PageKey, STAMP, ScanKey, Slot, StoreError, Subject, Succeeded, Success,
    Unlocked, UserScan, UserStore, stored_email, stored_phone,
};
use crate::user::{AdminStamp, Authenticator, Role, User, UserPatch};

/// An authenticator as a map attribute.
pub fn authenticator(a: &Authenticator) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("sealed_key".to_string(), s(&a.sealed_key)),
        ("enabled".to_string(), AttributeValue::Bool(a.enabled)),
    ]))
}

/// The user item. Every field a patch can change is written through
/// [`patch_attributes`], so an item and an update never disagree on a name or a type.
pub fn user_item(u: &User) -> Item {
    let mut i = key(keys::user_pk(&u.id), keys::USER_SK);
    let whole = UserPatch {
        email_confirmed: Some(u.email_confirmed),
        phone_number: Some(u.phone_number.clone()),
        phone_number_confirmed: Some(u.phone_number_confirmed),
        two_factor_enabled: Some(u.two_factor_enabled),
        authenticator: Some(u.authenticator.clone()),
        recovery_codes: Some(u.recovery_codes.clone()),
        security_stamp: Some(u.security_stamp.clone()),
        password_hash: Some(u.password_hash.clone()),
        pending_sign_in: Some(u.pending_sign_in.clone()),
        reset_failures: false,
        second_factor_lost: Some(u.second_factor_lost),
        passkeys: Some(u.passkeys.clone()),
        expected_stamp: None,
        admin_stamp: None,
    };
    for (name, v) in patch_attributes(&whole) {
        if let Some(v) = v {
            i.insert(name.to_string(), v);
        }
    }
    let mut put = |k: &str, v: AttributeValue| {
        i.insert(k.to_string(), v);
    };
    put(attr::ID, s(&u.id));
    put(attr::SCOPE, s(u.side.key()));
    put(attr::EMAIL, s(u.email.as_str()));
    put(
        attr::ROLES,
        AttributeValue::L(u.roles.iter().map(|r| s(r.as_str())).collect()),
    );
    put(attr::FAILED_COUNT, n(u.failed_count));
    put(attr::CREATED_AT, n(u.created_at));
    put(SIDE_PK, s(keys::side_users(&u.side)));
    put(SIDE_SK, s(u.email.key()));
    if let Some(v) = u.totp_last_step {
        put(attr::TOTP_LAST_STEP, n(v));
    }
    if let Some(v) = u.lockout_end {
        put(attr::LOCKOUT_END, n(v));
    }
    i
}

/// A user from its item.
pub fn user_from(i: &Item) -> Result<User, StoreError> {
    let r = Reader(i);
    let scope = Side::from_key(&r.s(attr::SCOPE)?)
        .ok_or_else(|| corrupt(attr::SCOPE, "unknown scope key"))?;
    let roles = r
        .string_list(attr::ROLES)?
        .iter()
        .map(|v| Role::parse(v).ok_or_else(|| corrupt(attr::ROLES, "unknown role")))
        .collect::<Result<_, _>>()?;
    let authenticator = match r.opt_map(attr::AUTHENTICATOR)? {
        None => None,
        Some(m) => {
            let a = Reader(m);
            Some(Authenticator {
                sealed_key: a.s("sealed_key")?,
                enabled: a.bool("enabled")?,
            })
        }
    };
    Ok(User {
        id: UserId::from(r.s(attr::ID)?),
        side: scope,
        // The key it is stored under: on every user since the side index (see
        // `user_item`), and the text in lower case on one written before.
        email: stored_email(
            attr::EMAIL,
            &r.s(attr::EMAIL)?,
            r.opt_s(SIDE_SK)?.as_deref(),
        )?,
        email_confirmed: r.bool(attr::EMAIL_CONFIRMED)?,
        password_hash: r.s(attr::PASSWORD_HASH)?,
        phone_number: r
            .opt_s(attr::PHONE_NUMBER)?
            .map(|p| stored_phone(attr::PHONE_NUMBER, &p))
            .transpose()?,
        phone_number_confirmed: r.bool(attr::PHONE_NUMBER_CONFIRMED)?,
        roles,
        two_factor_enabled: r.bool(attr::TWO_FACTOR_ENABLED)?,
        authenticator,
        totp_last_step: r.opt_n(attr::TOTP_LAST_STEP)?,
        recovery_codes: r.string_set(attr::RECOVERY_CODES)?,
        failed_count: r.counter(attr::FAILED_COUNT)?,
        lockout_end: r.opt_n(attr::LOCKOUT_END)?,
        security_stamp: r.s(attr::SECURITY_STAMP)?,
        pending_sign_in: r.opt_s(attr::PENDING_SIGN_IN)?.map(SignInId::from),
        created_at: r.n(attr::CREATED_AT)?,
        second_factor_lost: r.bool(attr::SECOND_FACTOR_LOST)?,
        passkeys: passkeys_from(i)?,
    })
}

/// The item that makes an email unique in its scope and points at the user.
pub fn email_item(u: &User) -> Item {
    let mut i = single_key(keys::email_pk(&u.side, &u.email.key()));
    i.insert("user_id".to_string(), s(&u.id));
    // A copy, so login can check the password after one round trip (the store's module doc).
    i.insert(attr::PASSWORD_HASH.to_string(), s(&u.password_hash));
    i
}

/// The attributes a patch writes, `None` to remove one (an absent optional field
/// is an absent attribute, never `NULL`): the one place a [`UserPatch`] becomes
/// attributes, for the user item and for every update alike.
fn patch_attributes(p: &UserPatch) -> Vec<(&'static str, Option<AttributeValue>)> {
    let flag = |v: &Option<bool>| v.map(AttributeValue::Bool);
    let mut out = Vec::new();
    let mut field = |name: &'static str, v: Option<Option<AttributeValue>>| {
        if let Some(v) = v {
            out.push((name, v));
        }
    };
    field(attr::EMAIL_CONFIRMED, flag(&p.email_confirmed).map(Some));
    field(
        attr::PHONE_NUMBER,
        p.phone_number
            .as_ref()
            .map(|v| v.as_ref().map(|p| s(p.as_str()))),
    );
    field(
        attr::PHONE_NUMBER_CONFIRMED,
        flag(&p.phone_number_confirmed).map(Some),
    );
    field(
        attr::TWO_FACTOR_ENABLED,
        flag(&p.two_factor_enabled).map(Some),
    );
    field(
        attr::AUTHENTICATOR,
        p.authenticator
            .as_ref()
            .map(|v| v.as_ref().map(authenticator)),
    );
    field(
        attr::RECOVERY_CODES,
        p.recovery_codes.as_ref().map(|v| string_set(v)),
    );
    field(
        attr::SECURITY_STAMP,
        p.security_stamp.as_ref().map(|v| Some(s(v))),
    );
    field(
        attr::PASSWORD_HASH,
        p.password_hash.as_ref().map(|v| Some(s(v))),
    );
    field(
        attr::PENDING_SIGN_IN,
        p.pending_sign_in.as_ref().map(|v| v.as_ref().map(s)),
    );
    field(
        attr::SECOND_FACTOR_LOST,
        flag(&p.second_factor_lost).map(Some),
    );
    // Always a map, empty too: an added passkey is set as a path inside it.
    field(
        PASSKEYS,
        p.passkeys.as_ref().map(|v| Some(passkeys_value(v))),
    );
    if p.reset_failures {
        field(attr::FAILED_COUNT, Some(Some(n(0))));
        field(attr::FAILURE_STREAK, Some(Some(n(0))));
    }
    out
}

/// The `UpdateItem` of a patch: only the fields it names.
pub(super) fn patch_update(patch: &UserPatch) -> Update {
    patch_attributes(patch)
        .into_iter()
        .fold(Update::default().with_name(item::PK), |u, (name, v)| {
            u.set_or_remove(name, v)
        })
}

const USER_EXISTS: &str = "attribute_exists(#pk)";

/// The condition a patch made [`UserPatch::under_stamp`] adds to its write: the
/// security stamp is still the one the request read.
impl DynamoStore {
    /// A check, in the transaction of an administrator's change to someone else's
    /// account, that the administrator's stamp is still the one its request read.
    pub(super) fn admin_check(&self, admin: &AdminStamp) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(keys::user_pk(&admin.admin), keys::USER_SK)))
            .condition_expression("#stamp = :stamp")
            .expression_attribute_names("#stamp", attr::SECURITY_STAMP)
            .expression_attribute_values(":stamp", s(&admin.stamp))
            .build()
            .map_err(built)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

pub(super) fn under_stamp(patch: &UserPatch, u: Update, condition: &mut String) -> Update {
    match &patch.expected_stamp {
        None => u,
        Some(stamp) => {
            condition.push_str(" AND #security_stamp = :expected_stamp");
            u.with_name(attr::SECURITY_STAMP)
                .with_value("expected_stamp", s(stamp))
        }
    }
}

/// Why a write of `patch` under a stamp failed its condition, from the user read
/// after: `Ok(true)` when the user already carries the new stamp the patch writes
/// (a retry of a write whose first try went through: the stamp is a fresh random
/// value, so nobody else wrote it), `Ok(false)` when the stamp moved on,
/// `NotFound` when there is no user.
fn stamp_refusal(patch: &UserPatch, now: Option<&User>) -> Result<bool, StoreError> {
    let user = now.ok_or(StoreError::NotFound)?;
    Ok(patch.written_over(user))
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let new = "attribute_not_exists(#pk)";
        let names = [("#pk", item::PK)];
        let tx = vec![
            self.put_if(user_item(user), new, &names, vec![])?,
            self.put_if(email_item(user), new, &names, vec![])?,
        ];
        match self.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.get(1) == Some(&true) => Err(StoreError::Conflict(attr::EMAIL)),
            Err(_) => Err(StoreError::Conflict("user")),
        }
    }

    async fn user_by_email(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<User>, StoreError> {
        let Some(pointer) = self
            .get(item::single_key(keys::email_pk(scope, email_key)))
            .await?
        else {
            return Ok(None);
        };
        let id = UserId::from(Reader(&pointer).s("user_id")?);
        self.user(&id).await
    }

    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.get(item::key(keys::user_pk(id), keys::USER_SK))
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<(), StoreError> {
        let u = patch_update(patch);
        if u.is_empty() {
            return match self.user(id).await? {
                Some(user) if !patch.stamp_holds(&user) => Err(StoreError::Conflict(STAMP)),
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound),
            };
        }
        let mut condition = USER_EXISTS.to_string();
        let u = under_stamp(patch, u, &mut condition);
        let applied = match &patch.admin_stamp {
            None => self.update_user_if(id, u, &condition).await?,
            Some(admin) => {
                let call =
                    UpdateCall::new(item::key(keys::user_pk(id), keys::USER_SK), u).when(condition);
                let tx = vec![self.admin_check(admin)?, call.in_transaction(&self.table)?];
                match self.transact(tx).await? {
                    Ok(()) => true,
                    // The admin's stamp moved on (a retry of a write that applied is
                    // answered by DynamoDB as applied: its client token is the same).
                    Err(failed) if failed.first() == Some(&true) => {
                        return Err(StoreError::Conflict(STAMP));
                    }
                    Err(_) => false,
                }
            }
        };
        if !applied {
            if patch.expected_stamp.is_none() {
                return Err(StoreError::NotFound);
            }
            if !stamp_refusal(patch, self.user(id).await?.as_ref())? {
                return Err(StoreError::Conflict(STAMP));
            }
        }
        if let Some(hash) = &patch.password_hash {
            // Login's copy on the email item. Not atomic with the user: a stale copy
            // only costs login a second check against the user item's hash.
            if let Some(user) = self.user(id).await? {
                let key = item::single_key(keys::email_pk(&user.side, &user.email.key()));
                let copy = Update::default()
                    .set(attr::PASSWORD_HASH, s(hash))
                    .with_name(item::PK)
                    .with_name("user_id")
                    .with_value("user_id", s(id));
                self.update_if(key, copy, "attribute_exists(#pk) AND #user_id = :user_id")
                    .await?;
            }
        }
        Ok(())
    }

    async fn update_user_if_authenticator(
        &self,
        id: &UserId,
        expected: Option<&Authenticator>,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        let u = patch_update(patch)
            .with_name(item::PK)
            .with_name(attr::AUTHENTICATOR);
        let mut stamp = String::new();
        let u = under_stamp(patch, u, &mut stamp);
        // `update_once`: a retried write that went through is this call's own, not a
        // change made meanwhile (which would answer 409 over a key the client never got).
        let key = item::key(keys::user_pk(id), keys::USER_SK);
        let written = match expected {
            None => {
                let condition =
                    "attribute_exists(#pk) AND attribute_not_exists(#authenticator)".to_string();
                self.update_once(key, u, &(condition + &stamp)).await
            }
            // Scalars compared one by one: the key and whether it is enabled are what was decided on.
            Some(a) => {
                let u = u
                    .with_name("sealed_key")
                    .with_name("enabled")
                    .with_value("expected_sealed_key", s(&a.sealed_key))
                    .with_value(
                        "expected_enabled",
                        aws_sdk_dynamodb::types::AttributeValue::Bool(a.enabled),
                    );
                let condition = "attribute_exists(#pk) AND #authenticator.#sealed_key = :expected_sealed_key AND #authenticator.#enabled = :expected_enabled".to_string();
                self.update_once(key, u, &(condition + &stamp)).await
            }
        }?;
        if written || patch.expected_stamp.is_none() {
            return Ok(written);
        }
        // A retry of a write that went through is this request's own success.
        match stamp_refusal(patch, self.user(id).await?.as_ref()) {
            Err(StoreError::NotFound) => Ok(false),
            other => other,
        }
    }

    async fn login_record(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<LoginRecord>, StoreError> {
        let Some(pointer) = self
            .get(item::single_key(keys::email_pk(scope, email_key)))
            .await?
        else {
            return Ok(None);
        };
        let r = Reader(&pointer);
        Ok(Some(LoginRecord {
            user_id: r.s("user_id")?.into(),
            password_hash: r.opt_s(attr::PASSWORD_HASH)?,
        }))
    }

    async fn take_slot(
        &self,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SignInId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        self.write_slot(subject, attempt, sid, max, now).await
    }

    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        self.write_lock(subject, now, until, hard).await
    }

    async fn succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        self.write_succeed(id, success, now).await
    }

    async fn unlock(
        &self,
        id: &UserId,
        request: &RequestId,
        admin: Option<&AdminStamp>,
        now: Timestamp,
    ) -> Result<Unlocked, StoreError> {
        self.write_unlock(id, request, admin, now).await
    }

    async fn users_in(
        &self,
        scope: &Side,
        email_prefix: &str,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        let start = after.map(|a| {
            let mut k = item::key(keys::user_pk(&a.user_id), keys::USER_SK);
            k.insert(item::SIDE_PK.to_string(), s(keys::side_users(scope)));
            k.insert(item::SIDE_SK.to_string(), s(&a.sort));
            k
        });
        let mut values = vec![(":side", s(keys::side_users(scope)))];
        let key_condition = if email_prefix.is_empty() {
            "#side_pk = :side"
        } else {
            values.push((":prefix", s(email_prefix)));
            "#side_pk = :side AND begins_with(#side_sk, :prefix)"
        };
        let names: &[(&str, &str)] = if email_prefix.is_empty() {
            &[("#side_pk", item::SIDE_PK)]
        } else {
            &[("#side_pk", item::SIDE_PK), ("#side_sk", item::SIDE_SK)]
        };
        let q = PageQuery {
            index: Some(item::SIDE_INDEX),
            key_condition,
            filter: None,
            names,
            values,
            forward: true,
            page_key: side_page_key,
        };
        let page = self.query_page(q, start, limit).await?;
        Ok(Page {
            items: page.items.iter().map(user_from).collect::<Result<_, _>>()?,
            next: page.next,
        })
    }

    async fn every_user(
        &self,
        after: Option<&ScanKey>,
        limit: usize,
    ) -> Result<UserScan, StoreError> {
        let start = after.map(|a| item::key(a.partition.clone(), a.sort.clone()));
        let (items, next) = self
            .scan_page(
                "#sk = :user_sk",
                &[("#sk", item::SK)],
                vec![(":user_sk", s(keys::USER_SK))],
                start,
                limit.max(1),
            )
            .await?;
        let next = match next {
            Some(k) => Some(ScanKey {
                partition: Reader(&k).s(item::PK)?,
                sort: Reader(&k).s(item::SK)?,
            }),
            None => None,
        };
        Ok(UserScan {
            users: items.iter().map(user_from).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn rekey_email(&self, user: &User, key: &str) -> Result<(), StoreError> {
        let old = user.email.key();
        let moved = User {
            email: Email::from_stored_with_key(user.email.as_str(), key)
                .map_err(|_| corrupt(attr::EMAIL, "not an email address"))?,
            ..user.clone()
        };
        let new = self.put_if(
            email_item(&moved),
            "attribute_not_exists(#pk)",
            &[("#pk", item::PK)],
            vec![],
        )?;
        let free = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(single_key(keys::email_pk(&user.side, &old))))
            .condition_expression("#user_id = :user_id")
            .expression_attribute_names("#user_id", "user_id")
            .expression_attribute_values(":user_id", s(&user.id))
            .build()
            .map_err(built)?;
        // The user's record of its key, and the side index's keys with it (a user
        // written before the index had none, and was in no list).
        let record = UpdateCall::new(
            item::key(keys::user_pk(&user.id), keys::USER_SK),
            Update::default()
                .set(SIDE_PK, s(keys::side_users(&user.side)))
                .set(SIDE_SK, s(key))
                .with_name(attr::EMAIL)
                .with_value("email", s(user.email.as_str()))
                .with_value("old", s(&old)),
        )
        .when("#email = :email AND (attribute_not_exists(#side_sk) OR #side_sk = :old)")
        .in_transaction(&self.table)?;
        let tx = vec![
            new,
            TransactWriteItem::builder().delete(free).build(),
            record,
        ];
        match self.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed.first() == Some(&true) => Err(StoreError::Conflict(attr::EMAIL)),
            Err(_) => Err(StoreError::Conflict("user")),
        }
    }
}

impl DynamoStore {
    /// One conditional `UpdateItem` on the user item; `Ok(false)` when the condition failed.
    pub(super) async fn update_user_if(
        &self,
        id: &UserId,
        update: Update,
        condition: &str,
    ) -> Result<bool, StoreError> {
        self.update_if(
            item::key(keys::user_pk(id), keys::USER_SK),
            update,
            condition,
        )
        .await
    }
}
