//! The lockout writes on a user or an unknown email's counter: the slot an
//! attempt takes, the lock, and the success write (see the module doc).

use crate::ids::{AttemptId, RequestId, SignInId, UserId};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::DynamoStore;
use super::item::Update;
use super::item::{self, Item, Reader, attr, keys, n, s};
use super::passkeys::spend_passkey;
use super::request::{UpdateCall, Updated, built, is_condition_failure};
use super::users::{patch_update, under_stamp, user_from};
use crate::clock::Timestamp;
use crate::codes::CodePurpose;
use crate::store::{STAMP, Slot, Spend, StoreError, Subject, Succeeded, Success, Unlocked};
use crate::user::AdminStamp;

impl DynamoStore {
    /// [`crate::store::UserStore::take_slot`]: one `UpdateItem` that is also the read of the user.
    pub(super) async fn write_slot(
        &self,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SignInId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        let call = slot_call(subject, attempt, sid, max, now)
            .returning_new()
            .old_on_refusal();
        match self.update_item(call).await? {
            Updated::Applied(new) => slot_taken(subject, &new),
            Updated::Refused(Some(old)) => why_slot_refused(&old, subject, attempt, sid, now),
            Updated::Refused(None) => Err(StoreError::NotFound),
        }
    }

    /// [`crate::store::UserStore::lock`].
    pub(super) async fn write_lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        let mut u = Update::default()
            .set(attr::LOCKOUT_END, n(until))
            .set(attr::FAILED_COUNT, n(0))
            .remove(attr::HELD_SLOTS)
            .with_value("now", n(now));
        if hard {
            // Unlock reads it: the lock that restarted the streak is not the admin's to end.
            u = u
                .set(attr::FAILURE_STREAK, n(0))
                .set(attr::HARD_LOCK_END, n(until));
        }
        // A lock already on stands, except that a hard lock replaces a shorter one (a
        // raced hundredth failure must still lock long and restart the streak).
        let mut condition = String::from(if hard {
            "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now OR #lockout_end < :lockout_end)"
        } else {
            "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now)"
        });
        let key = match subject {
            Subject::User(id) => {
                u = u.remove(attr::PENDING_SIGN_IN).with_name(item::PK);
                condition.push_str(" AND attribute_exists(#pk)");
                item::key(keys::user_pk(id), keys::USER_SK)
            }
            Subject::Unknown(k) => {
                u = u.remove(item::TTL);
                item::single_key(keys::unknown_pk(k))
            }
        };
        let call = UpdateCall::new(key, u).when(condition).old_on_refusal();
        match self.update_item(call).await? {
            Updated::Applied(_) => Ok(()),
            Updated::Refused(None) => Err(StoreError::NotFound),
            // Locked already, at least as long (by a concurrent attempt): that lock stands.
            Updated::Refused(Some(_)) => Ok(()),
        }
    }

    /// [`crate::store::UserStore::unlock`]: one update of the user, refused while the
    /// lock [`crate::store::HARD_LIMIT`] consecutive failures earned is on (the old
    /// item it returns then says until when). A one-item transaction whose client
    /// token names the request: an unlock the SDK retries after a guess landed must
    /// not clear that guess's count. An administrator's is held to its stamp.
    pub(super) async fn write_unlock(
        &self,
        id: &UserId,
        request: &RequestId,
        admin: Option<&AdminStamp>,
        now: Timestamp,
    ) -> Result<Unlocked, StoreError> {
        let u = Update::default()
            .remove(attr::LOCKOUT_END)
            .set(attr::FAILED_COUNT, n(0))
            .remove(attr::HELD_SLOTS)
            .with_name(item::PK)
            .with_name(attr::HARD_LOCK_END)
            .with_value("now", n(now));
        let call = UpdateCall::new(item::key(keys::user_pk(id), keys::USER_SK), u)
            .when(
                "attribute_exists(#pk) AND (attribute_not_exists(#hard_lock_end) OR #hard_lock_end <= :now)",
            )
            .old_on_refusal();
        match self
            .transact_one(call, &["unlock", request.as_str()], admin)
            .await?
        {
            None => Ok(Unlocked::Done),
            Some(None) => Err(StoreError::NotFound),
            Some(Some(old)) => match Reader(&old).opt_n(attr::HARD_LOCK_END)? {
                Some(end) => Ok(Unlocked::HardLocked(end)),
                // Not a hard lock that failed the condition: the item is not what it should be.
                None => Err(item::corrupt(
                    attr::HARD_LOCK_END,
                    "missing where an unlock was refused",
                )),
            },
        }
    }

    /// One update as a one-item `TransactWriteItems` under its client request token
    /// ([`UpdateCall::client_token`] of `parts` and the update), so that a retry of
    /// a write that applied is answered as applied, by DynamoDB, whatever other
    /// writes landed on the item in between (its idempotency window is ten
    /// minutes); retried on a transaction conflict. `None` when it committed, else
    /// the item as it was (when the update asked for it and the item exists).
    ///
    /// With `admin`, the transaction also checks that the administrator making the
    /// change still has the stamp its request read: `Conflict(STAMP)` otherwise.
    async fn transact_one(
        &self,
        call: UpdateCall,
        parts: &[&str],
        admin: Option<&AdminStamp>,
    ) -> Result<Option<Option<Item>>, StoreError> {
        let mut parts = parts.to_vec();
        if let Some(a) = admin {
            parts.extend([a.admin.as_str(), a.stamp.as_str()]);
        }
        let token = call.client_token(&parts);
        let mut items = vec![call.in_transaction(&self.table)?];
        if let Some(a) = admin {
            items.push(self.admin_check(a)?);
        }
        let Some(reasons) = self
            .transact_retrying(items, || Some(token.clone()), 5, Duration::from_millis(20))
            .await?
        else {
            return Ok(None);
        };
        if reasons.get(1).is_some_and(is_condition_failure) {
            return Err(StoreError::Conflict(STAMP));
        }
        Ok(Some(reasons.first().and_then(|r| r.item().cloned())))
    }

    /// [`crate::store::UserStore::succeed`].
    pub(super) async fn write_succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let (mut count, mut streak) = (success.release_only, success.release_only);
        // The counts to give back may have been reset meanwhile (a lock, an unlock or
        // a success reset the count while the answer was judged, and no lock is on
        // now): write again giving back only what is still counted. Each retry gives
        // back less: at most two.
        for _ in 0..3 {
            match self.write_success(id, success, now, count, streak).await? {
                Ok(done) => return Ok(done),
                Err((counted, streaked)) => {
                    (count, streak) = (count && counted, streak && streaked)
                }
            }
        }
        Ok(Succeeded::Spent)
    }

    /// The success write. With `release_only`, the slot is given back by `ADD -1`
    /// on `failed_count` (when `count`, only while the attempt's slot is still held:
    /// a reset since took it off the count already) and `failure_streak` (when
    /// `streak`), each only while it is above 0, so the counts never go below zero;
    /// a refusal for that alone is `Err` with whether each is still to give back.
    async fn write_success(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
        count: bool,
        streak: bool,
    ) -> Result<Result<Succeeded, (bool, bool)>, StoreError> {
        let call = success_call(id, success, now, count, streak);
        let refused = match success.spend {
            Spend::Code(purpose, hash) => {
                self.succeed_spending_code(id, call, purpose, hash, success.attempt)
                    .await?
            }
            // The attempt names the token: two attempts whose writes read alike
            // are still two requests, each judged on the item as it is.
            _ => match self
                .transact_one(call, &["success", success.attempt.as_str()], None)
                .await?
            {
                None => None,
                Some(old) => Some(SuccessRefused::User(old.ok_or(StoreError::NotFound)?)),
            },
        };
        match refused {
            None => Ok(Ok(Succeeded::Done)),
            Some(SuccessRefused::Code) => Ok(Ok(Succeeded::Spent)),
            Some(SuccessRefused::NoItem) => Ok(Ok(Succeeded::Ended)),
            Some(SuccessRefused::User(old)) => {
                why_success_refused(&old, success, now, count, streak)
            }
        }
    }

    /// The success write and the conditional delete of the emailed or texted code,
    /// as one `TransactWriteItems` under a client request token made from both
    /// (see [`DynamoStore::transact_one`]); `None` when it committed.
    async fn succeed_spending_code(
        &self,
        id: &UserId,
        call: UpdateCall,
        purpose: CodePurpose,
        hash: &str,
        attempt: &AttemptId,
    ) -> Result<Option<SuccessRefused>, StoreError> {
        let token = call.client_token(&[
            "success-spending-code",
            attempt.as_str(),
            purpose.as_str(),
            hash,
        ]);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(keys::user_pk(id), keys::code_sk(purpose))))
            .condition_expression("#hash = :hash")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":hash", s(hash))
            .build()
            .map_err(built)?;
        let items = vec![
            call.in_transaction(&self.table)?,
            TransactWriteItem::builder().delete(delete).build(),
        ];
        let Some(reasons) = self
            .transact_retrying(items, || Some(token.clone()), 5, Duration::from_millis(20))
            .await?
        else {
            return Ok(None);
        };
        let failed = |i: usize| reasons.get(i).is_some_and(is_condition_failure);
        let old = if failed(0) {
            reasons.first().and_then(|r| r.item().cloned())
        } else {
            None
        };
        Ok(Some(match old {
            Some(old) => SuccessRefused::User(old),
            None if failed(1) => SuccessRefused::Code,
            None => SuccessRefused::NoItem,
        }))
    }
}

/// The slot's update: `ADD 1` to both counts under the conditions of the module doc.
fn slot_call(
    subject: Subject<'_>,
    attempt: &str,
    sid: Option<&SignInId>,
    max: u32,
    now: Timestamp,
) -> UpdateCall {
    let mut u = Update::default()
        .add(attr::FAILED_COUNT, n(1))
        .add(attr::FAILURE_STREAK, n(1))
        .add(
            attr::HELD_SLOTS,
            AttributeValue::Ss(vec![attempt.to_string()]),
        )
        .with_value("attempt", s(attempt))
        .with_name(attr::LOCKOUT_END)
        .with_value("now", n(now))
        .with_value("max", n(max))
        .with_value("hard", n(crate::store::HARD_LIMIT));
    let mut condition = String::from(
        "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now) \
         AND (attribute_not_exists(#failed_count) OR #failed_count < :max) \
         AND (attribute_not_exists(#failure_streak) OR #failure_streak < :hard) \
         AND NOT contains(#held_slots, :attempt)",
    );
    let key = match subject {
        Subject::User(id) => {
            u = u.with_name(item::PK);
            condition.push_str(" AND attribute_exists(#pk)");
            if let Some(sid) = sid {
                u = u.with_name(attr::PENDING_SIGN_IN).with_value("sid", s(sid));
                condition.push_str(" AND #pending_sign_in = :sid");
            }
            item::key(keys::user_pk(id), keys::USER_SK)
        }
        Subject::Unknown(k) => {
            // Kept as long as an account's count (see `Subject::Unknown`); a TTL an
            // older write left is dropped.
            u = u.remove(item::TTL);
            item::single_key(keys::unknown_pk(k))
        }
    };
    UpdateCall::new(key, u).when(condition)
}

/// A slot taken, from the item as written: the user (for an account) and both counts.
fn slot_taken(subject: Subject<'_>, item: &Item) -> Result<Slot, StoreError> {
    let r = Reader(item);
    let user = match subject {
        Subject::User(_) => Some(Box::new(user_from(item)?)),
        Subject::Unknown(_) => None,
    };
    Ok(Slot::Taken {
        user,
        count: r.counter(attr::FAILED_COUNT)?,
        streak: r.counter(attr::FAILURE_STREAK)?,
    })
}

/// Why the slot was refused, from the item as it was: this attempt's own slot
/// written by a try whose answer was lost, a lock, an ended sign-in, the hard
/// limit, or every slot held.
fn why_slot_refused(
    old: &Item,
    subject: Subject<'_>,
    attempt: &str,
    sid: Option<&SignInId>,
    now: Timestamp,
) -> Result<Slot, StoreError> {
    let r = Reader(old);
    if r.string_set(attr::HELD_SLOTS)?
        .iter()
        .any(|held| held == attempt)
    {
        // Refused as a retry of a write that went through: this attempt's own slot.
        return slot_taken(subject, old);
    }
    if let Some(end) = r
        .opt_n::<Timestamp>(attr::LOCKOUT_END)?
        .filter(|end| *end > now)
    {
        return Ok(Slot::Locked(end));
    }
    if sid.is_some() && r.opt_s(attr::PENDING_SIGN_IN)?.as_deref() != sid.map(SignInId::as_str) {
        return Ok(Slot::Ended);
    }
    if r.counter(attr::FAILURE_STREAK)? >= crate::store::HARD_LIMIT {
        return Ok(Slot::Exhausted);
    }
    Ok(Slot::Full)
}

/// Why a success write was refused, as far as the write itself tells.
enum SuccessRefused {
    /// The user item's condition failed: the item as it was, which tells why.
    User(Item),
    /// The code's condition failed (and the user's did not say why): used,
    /// replaced or expired meanwhile.
    Code,
    /// The user item's condition failed with no item to tell why.
    NoItem,
}

/// The success write's update and condition (see [`DynamoStore::write_success`]).
fn success_call(
    id: &UserId,
    success: &Success<'_>,
    now: Timestamp,
    count: bool,
    streak: bool,
) -> UpdateCall {
    let mut u = patch_update(success.patch)
        .with_name(item::PK)
        .with_name(attr::LOCKOUT_END)
        .with_value("now", n(now));
    let mut condition = String::from(
        "attribute_exists(#pk) AND (attribute_not_exists(#lockout_end) OR #lockout_end <= :now)",
    );
    u = if success.release_only {
        u.delete(
            attr::HELD_SLOTS,
            AttributeValue::Ss(vec![success.attempt.to_string()]),
        )
    } else {
        u.set(attr::FAILED_COUNT, n(0))
            .set(attr::FAILURE_STREAK, n(0))
            .remove(attr::HELD_SLOTS)
    };
    for (attr, give_back) in [(attr::FAILED_COUNT, count), (attr::FAILURE_STREAK, streak)] {
        if success.release_only && give_back {
            u = u.add(attr, n(-1)).with_value("zero", n(0));
            condition.push_str(&format!(" AND #{attr} > :zero"));
        }
    }
    if success.release_only && count {
        u = u.with_value("attempt", s(success.attempt));
        condition.push_str(" AND contains(#held_slots, :attempt)");
    }
    if let Some(sid) = success.sid {
        if success.patch.pending_sign_in.is_none() {
            u = u.remove(attr::PENDING_SIGN_IN);
        }
        u = u.with_name(attr::PENDING_SIGN_IN).with_value("sid", s(sid));
        condition.push_str(" AND #pending_sign_in = :sid");
    }
    u = under_stamp(success.patch, u, &mut condition);
    if let Some(a) = success.authenticator {
        // Scalars compared one by one, as in `update_user_if_authenticator`.
        u = u
            .with_name(attr::AUTHENTICATOR)
            .with_name("sealed_key")
            .with_name("enabled")
            .with_value("expected_sealed_key", s(&a.sealed_key))
            .with_value("expected_enabled", AttributeValue::Bool(a.enabled));
        condition.push_str(" AND #authenticator.#sealed_key = :expected_sealed_key AND #authenticator.#enabled = :expected_enabled");
    }
    (u, condition) = spend_in_update(&success.spend, u, condition, now);
    UpdateCall::new(item::key(keys::user_pk(id), keys::USER_SK), u)
        .when(condition)
        .old_on_refusal()
}

/// What spending a TOTP step or a recovery code adds to the user's update (an
/// emailed or texted code is its own item, deleted beside it).
fn spend_in_update(
    spend: &Spend<'_>,
    u: Update,
    mut condition: String,
    now: Timestamp,
) -> (Update, String) {
    let u = match spend {
        Spend::Passkey(asserted) => spend_passkey(asserted, u, &mut condition, now),
        Spend::Nothing | Spend::Code(..) => u,
        Spend::TotpStep(step) => {
            condition.push_str(
                " AND (attribute_not_exists(#totp_last_step) OR #totp_last_step < :totp_last_step)",
            );
            u.set(attr::TOTP_LAST_STEP, n(*step))
        }
        Spend::RecoveryCode(hash) => {
            condition.push_str(" AND contains(#recovery_codes, :hash)");
            u.delete(
                attr::RECOVERY_CODES,
                AttributeValue::Ss(vec![hash.to_string()]),
            )
            .with_value("hash", s(*hash))
        }
    };
    (u, condition)
}

/// What a refused success write meant, from the user item as it was: a lock, an
/// ended sign-in, a changed stamp or authenticator, or (`Err`, with whether each
/// count is still to give back) only a slot to give back that a reset had already
/// taken off the count.
fn why_success_refused(
    old: &Item,
    success: &Success<'_>,
    now: Timestamp,
    count: bool,
    streak: bool,
) -> Result<Result<Succeeded, (bool, bool)>, StoreError> {
    let r = Reader(old);
    if let Some(end) = r
        .opt_n::<Timestamp>(attr::LOCKOUT_END)?
        .filter(|end| *end > now)
    {
        return Ok(Ok(Succeeded::Locked(end)));
    }
    if success.sid.is_some()
        && r.opt_s(attr::PENDING_SIGN_IN)?.as_deref() != success.sid.map(SignInId::as_str)
    {
        return Ok(Ok(Succeeded::Ended));
    }
    if let Some(stamp) = &success.patch.expected_stamp
        && r.s(attr::SECURITY_STAMP)? != *stamp
    {
        return Ok(Ok(Succeeded::Ended));
    }
    if let Some(a) = success.authenticator
        && user_from(old)?.authenticator.as_ref() != Some(a)
    {
        return Ok(Ok(Succeeded::Changed));
    }
    let held = r
        .string_set(attr::HELD_SLOTS)?
        .iter()
        .any(|held| held == success.attempt.as_str());
    let (counted, streaked) = (
        r.counter(attr::FAILED_COUNT)? > 0 && held,
        r.counter(attr::FAILURE_STREAK)? > 0,
    );
    if (count && !counted) || (streak && !streaked) {
        return Ok(Err((counted, streaked)));
    }
    Ok(Ok(Succeeded::Spent))
}
