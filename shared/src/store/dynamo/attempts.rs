//! The lockout writes on a user or an unknown email's counter: the slot an
//! attempt takes, the lock, and the success write (see the module doc).

use crate::ids::{AttemptId, SignInId, UserId};
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
use crate::store::{Slot, Spend, StoreError, Subject, Succeeded, Success, Unlocked};

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

    /// [`crate::store::UserStore::unlock`]: one `UpdateItem`, refused while the lock
    /// [`crate::store::HARD_LIMIT`] consecutive failures earned is on (the old item
    /// it returns then says until when).
    pub(super) async fn write_unlock(
        &self,
        id: &UserId,
        now: Timestamp,
    ) -> Result<Unlocked, StoreError> {
        let u = Update::default()
            .remove(attr::LOCKOUT_END)
            .set(attr::FAILED_COUNT, n(0))
            .with_name(item::PK)
            .with_name(attr::HARD_LOCK_END)
            .with_value("now", n(now));
        let call = UpdateCall::new(item::key(keys::user_pk(id), keys::USER_SK), u)
            .when(
                "attribute_exists(#pk) AND (attribute_not_exists(#hard_lock_end) OR #hard_lock_end <= :now)",
            )
            .old_on_refusal();
        match self.update_item(call).await? {
            Updated::Applied(_) => Ok(Unlocked::Done),
            Updated::Refused(None) => Err(StoreError::NotFound),
            Updated::Refused(Some(old)) => match Reader(&old).opt_n(attr::HARD_LOCK_END)? {
                Some(end) => Ok(Unlocked::HardLocked(end)),
                // Not a hard lock that failed the condition: the item is not what it should be.
                None => Err(item::corrupt(
                    attr::HARD_LOCK_END,
                    "missing where an unlock was refused",
                )),
            },
        }
    }

    /// [`crate::store::UserStore::succeed`].
    pub(super) async fn write_succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let (mut count, mut streak) = (success.release_only, success.release_only);
        // The counts to give back may have been reset meanwhile (a lock reset the
        // count while the answer was judged, and that lock has ended): write again
        // giving back only what is still counted. Each retry gives back less: at most two.
        for _ in 0..3 {
            match self.write_success(id, success, now, count, streak).await? {
                Ok(done) => return Ok(done),
                Err((counted, streaked)) => {
                    (count, streak) = (count && counted > 0, streak && streaked > 0)
                }
            }
        }
        Ok(Succeeded::Spent)
    }

    /// The success write. With `release_only`, the slot is given back by `ADD -1`
    /// on `failed_count` (when `count`) and `failure_streak` (when `streak`), each
    /// only while it is above 0, so the counts never go below zero; a refusal for
    /// that alone is `Err` with the counts found.
    async fn write_success(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
        count: bool,
        streak: bool,
    ) -> Result<Result<Succeeded, (u32, u32)>, StoreError> {
        let call = success_call(id, success, now, count, streak);
        let refused = match success.spend {
            Spend::Code(purpose, hash) => {
                self.succeed_spending_code(id, call, purpose, hash, success.attempt)
                    .await?
            }
            _ => self.succeed_in_place(call).await?,
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

    /// The success write as one `UpdateItem` of the user; `None` when it applied.
    async fn succeed_in_place(
        &self,
        call: UpdateCall,
    ) -> Result<Option<SuccessRefused>, StoreError> {
        match self.update_item(call).await? {
            Updated::Applied(_) => Ok(None),
            Updated::Refused(old) => {
                Ok(Some(SuccessRefused::User(old.ok_or(StoreError::NotFound)?)))
            }
        }
    }

    /// The success write and the conditional delete of the emailed or texted code,
    /// as one `TransactWriteItems` whose client request token is the attempt id;
    /// `None` when it committed.
    async fn succeed_spending_code(
        &self,
        id: &UserId,
        call: UpdateCall,
        purpose: CodePurpose,
        hash: &str,
        attempt: &str,
    ) -> Result<Option<SuccessRefused>, StoreError> {
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
        // The client token makes the SDK's own retries of this call idempotent.
        let Some(reasons) = self
            .transact_retrying(
                items,
                || Some(attempt.to_string()),
                5,
                Duration::from_millis(20),
            )
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
        .set(attr::SLOT_ATTEMPT, s(attempt))
        .with_name(attr::LOCKOUT_END)
        .with_value("now", n(now))
        .with_value("max", n(max))
        .with_value("hard", n(crate::store::HARD_LIMIT));
    let mut condition = String::from(
        "(attribute_not_exists(#lockout_end) OR #lockout_end <= :now) \
         AND (attribute_not_exists(#failed_count) OR #failed_count < :max) \
         AND (attribute_not_exists(#failure_streak) OR #failure_streak < :hard) \
         AND (attribute_not_exists(#slot_attempt) OR #slot_attempt <> :slot_attempt)",
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
    if r.opt_s(attr::SLOT_ATTEMPT)?.as_deref() == Some(attempt) {
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
        .set(attr::DONE_ATTEMPT, s(success.attempt))
        .with_name(item::PK)
        .with_name(attr::LOCKOUT_END)
        .with_value("now", n(now));
    // Not this attempt's own success already: a retry of a write whose answer was
    // lost is refused, and its old item says it was this attempt's (a give-back,
    // which spends nothing, would otherwise give the slot back twice).
    let mut condition = String::from(
        "attribute_exists(#pk) AND (attribute_not_exists(#lockout_end) OR #lockout_end <= :now) \
         AND (attribute_not_exists(#done_attempt) OR #done_attempt <> :done_attempt)",
    );
    if !success.release_only {
        u = u
            .set(attr::FAILED_COUNT, n(0))
            .set(attr::FAILURE_STREAK, n(0));
    }
    for (attr, give_back) in [(attr::FAILED_COUNT, count), (attr::FAILURE_STREAK, streak)] {
        if success.release_only && give_back {
            u = u.add(attr, n(-1)).with_value("zero", n(0));
            condition.push_str(&format!(" AND #{attr} > :zero"));
        }
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

/// What a refused success write meant, from the user item as it was: this
/// attempt's own success retried, a lock, an ended sign-in, a changed stamp or
/// authenticator, or (`Err`, with the counts found) only a slot to give back that
/// a lock had already reset.
fn why_success_refused(
    old: &Item,
    success: &Success<'_>,
    now: Timestamp,
    count: bool,
    streak: bool,
) -> Result<Result<Succeeded, (u32, u32)>, StoreError> {
    let r = Reader(old);
    if r.opt_s(attr::DONE_ATTEMPT)?.as_deref() == Some(success.attempt) {
        // A retry of a write that went through: this attempt's own success.
        return Ok(Ok(Succeeded::Done));
    }
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
    let (counted, streaked) = (
        r.counter(attr::FAILED_COUNT)?,
        r.counter(attr::FAILURE_STREAK)?,
    );
    if (count && counted == 0) || (streak && streaked == 0) {
        return Ok(Err((counted, streaked)));
    }
    Ok(Ok(Succeeded::Spent))
}
