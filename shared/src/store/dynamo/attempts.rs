//! The lockout writes on a user or an unknown email's counter: the slot an
//! attempt takes, the lock, and the success write (see the module doc).

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Delete, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::DynamoStore;
use super::item::{self, Reader, attr, keys, n, s};
use super::request::{built, condition_failed, unavailable};
use super::update::Update;
use super::users::{patch_update, under_stamp, user_from};
use crate::clock::Timestamp;
use crate::ids::{AttemptId, SessionId, UserId};
use crate::store::{Slot, Spend, StoreError, Subject, Succeeded, Success, Unlocked};

impl DynamoStore {
    /// [`crate::store::UserStore::take_slot`]: one `UpdateItem` that is also the read of the user.
    pub(super) async fn write_slot(
        &self,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SessionId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(u.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let (item, refused) = match result {
            Ok(out) => (out.attributes.unwrap_or_default(), false),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => match c.item() {
                    Some(old) => (old.clone(), true),
                    None => return Err(StoreError::NotFound),
                },
                _ => return Err(unavailable(e)),
            },
        };
        let r = Reader(&item);
        let mine = r.opt_s(attr::SLOT_ATTEMPT)?.as_deref() == Some(attempt);
        if !refused || mine {
            // Refused as a retry of a write that went through: this attempt's own slot.
            let user = match subject {
                Subject::User(_) => Some(Box::new(user_from(&item)?)),
                Subject::Unknown(_) => None,
            };
            return Ok(Slot::Taken {
                user,
                count: r.counter(attr::FAILED_COUNT)?,
                streak: r.counter(attr::FAILURE_STREAK)?,
            });
        }
        if let Some(end) = r
            .opt_n::<Timestamp>(attr::LOCKOUT_END)?
            .filter(|end| *end > now)
        {
            return Ok(Slot::Locked(end));
        }
        if sid.is_some() && r.opt_s(attr::PENDING_SIGN_IN)?.as_deref() != sid.map(SessionId::as_str)
        {
            return Ok(Slot::Ended);
        }
        if r.counter(attr::FAILURE_STREAK)? >= crate::store::HARD_LIMIT {
            return Ok(Slot::Exhausted);
        }
        Ok(Slot::Full)
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(u.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Locked already, at least as long (by a concurrent attempt): that lock stands.
            Err(e) if condition_failed(&e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) if c.item().is_none() => {
                    Err(StoreError::NotFound)
                }
                _ => Ok(()),
            },
            Err(e) => Err(unavailable(e)),
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::key(keys::user_pk(id), keys::USER_SK)))
            .update_expression(u.expression())
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#hard_lock_end) OR #hard_lock_end <= :now)",
            )
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Unlocked::Done),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => match c.item() {
                    None => Err(StoreError::NotFound),
                    Some(old) => match Reader(old).opt_n(attr::HARD_LOCK_END)? {
                        Some(end) => Ok(Unlocked::HardLocked(end)),
                        // Not a hard lock that failed the condition: the item is not what it should be.
                        None => Err(item::corrupt(
                            attr::HARD_LOCK_END,
                            "missing where an unlock was refused",
                        )),
                    },
                },
                _ => Err(unavailable(e)),
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
                .with_value(
                    "expected_enabled",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(a.enabled),
                );
            condition.push_str(" AND #authenticator.#sealed_key = :expected_sealed_key AND #authenticator.#enabled = :expected_enabled");
        }
        match success.spend {
            Spend::Nothing | Spend::Code(..) => {}
            Spend::TotpStep(step) => {
                u = u.set(attr::TOTP_LAST_STEP, n(step));
                condition.push_str(" AND (attribute_not_exists(#totp_last_step) OR #totp_last_step < :totp_last_step)");
            }
            Spend::RecoveryCode(hash) => {
                u = u
                    .delete(
                        attr::RECOVERY_CODES,
                        aws_sdk_dynamodb::types::AttributeValue::Ss(vec![hash.to_string()]),
                    )
                    .with_value("hash", s(hash));
                condition.push_str(" AND contains(#recovery_codes, :hash)");
            }
        }
        let key = item::key(keys::user_pk(id), keys::USER_SK);
        let (old, code_refused) = match success.spend {
            Spend::Code(purpose, hash) => {
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression(u.expression())
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(u.names))
                    .set_expression_attribute_values(Some(u.values))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(built)?;
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(item::key(keys::user_pk(id), keys::code_sk(purpose))))
                    .condition_expression("#hash = :hash")
                    .expression_attribute_names("#hash", "hash")
                    .expression_attribute_values(":hash", s(hash))
                    .build()
                    .map_err(built)?;
                let items = vec![
                    TransactWriteItem::builder().update(update).build(),
                    TransactWriteItem::builder().delete(delete).build(),
                ];
                let mut conflicts = 0;
                loop {
                    // The client token makes the SDK's own retries of this call idempotent.
                    let result = self
                        .client
                        .transact_write_items()
                        .set_transact_items(Some(items.clone()))
                        .client_request_token(success.attempt)
                        .send()
                        .await;
                    let e = match result {
                        Ok(_) => return Ok(Ok(Succeeded::Done)),
                        Err(e) => e,
                    };
                    let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                        e.as_service_error()
                    else {
                        return Err(unavailable(e));
                    };
                    let reasons = c.cancellation_reasons();
                    let failed = |i: usize| {
                        reasons
                            .get(i)
                            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
                    };
                    if failed(0) || failed(1) {
                        let old = if failed(0) {
                            reasons.first().and_then(|r| r.item().cloned())
                        } else {
                            None
                        };
                        break (old, failed(1));
                    }
                    // Lost only to a concurrent transaction on the same items: try again, bounded.
                    conflicts += 1;
                    if conflicts > 5
                        || !reasons
                            .iter()
                            .any(|r| r.code() == Some("TransactionConflict"))
                    {
                        return Err(unavailable(e));
                    }
                    tokio::time::sleep(Duration::from_millis(20 * conflicts)).await;
                }
            }
            _ => {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression(u.expression())
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(u.names))
                    .set_expression_attribute_values(Some(u.values))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => return Ok(Ok(Succeeded::Done)),
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                            (Some(c.item().cloned().ok_or(StoreError::NotFound)?), false)
                        }
                        _ => return Err(unavailable(e)),
                    },
                }
            }
        };
        let Some(old) = old else {
            // Only the code's condition failed: used, replaced or expired meanwhile.
            return Ok(Ok(if code_refused {
                Succeeded::Spent
            } else {
                Succeeded::Ended
            }));
        };
        let r = Reader(&old);
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
            && r.opt_s(attr::PENDING_SIGN_IN)?.as_deref() != success.sid.map(SessionId::as_str)
        {
            return Ok(Ok(Succeeded::Ended));
        }
        if let Some(stamp) = &success.patch.expected_stamp
            && r.s(attr::SECURITY_STAMP)? != *stamp
        {
            return Ok(Ok(Succeeded::Ended));
        }
        if let Some(a) = success.authenticator
            && user_from(&old)?.authenticator.as_ref() != Some(a)
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
}
