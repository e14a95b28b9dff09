//! Pending emailed and texted codes, under their user's partition.

use async_trait::async_trait;

use super::DynamoStore;
use super::item::{
    self, Item, Reader, TTL, VALID_UNTIL, corrupt, key, keys, n, s, ttl_after, valid_until,
};
use super::request::{condition_failed, unavailable};
use crate::codes::{CodePurpose, PendingCode};
use crate::ids::UserId;
use crate::store::{CodeStore, StoreError};

pub(super) fn parse_purpose(v: &str) -> Result<CodePurpose, StoreError> {
    [
        CodePurpose::SignInEmail,
        CodePurpose::SignInSms,
        CodePurpose::ConfirmEmail,
        CodePurpose::ConfirmPhone,
        CodePurpose::PasswordReset,
    ]
    .into_iter()
    .find(|p| p.as_str() == v)
    .ok_or_else(|| corrupt("purpose", "unknown value"))
}

/// A pending code's item, under its user's partition.
pub fn code_item(c: &PendingCode) -> Item {
    let mut i = key(keys::user_pk(&c.user_id), keys::code_sk(c.purpose));
    i.insert("user_id".to_string(), s(&c.user_id));
    i.insert("purpose".to_string(), s(c.purpose.as_str()));
    i.insert("destination".to_string(), s(&c.destination));
    i.insert("hash".to_string(), s(&c.hash));
    i.insert("created_at".to_string(), n(c.created_at));
    i.insert(VALID_UNTIL.to_string(), n(c.expires_at));
    // A reset code is kept until a new one replaces it or it is spent, never swept:
    // its right but expired code answers 410 and counts nothing, and once swept it
    // would answer 401 and count a failure (the reset names an email, so there is no
    // sign-in whose end could say the code had been sent). One item per account that
    // ever asked, as the unknown email's counter is one per email that ever tried.
    if c.purpose != CodePurpose::PasswordReset {
        i.insert(TTL.to_string(), n(ttl_after(c.expires_at)));
    }
    i
}

/// A pending code from its item.
pub fn code_from(i: &Item) -> Result<PendingCode, StoreError> {
    let r = Reader(i);
    Ok(PendingCode {
        user_id: r.s("user_id")?.into(),
        purpose: parse_purpose(&r.s("purpose")?)?,
        destination: r.s("destination")?,
        hash: r.s("hash")?,
        created_at: r.n("created_at")?,
        expires_at: valid_until(&r)?,
    })
}

#[async_trait]
impl CodeStore for DynamoStore {
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError> {
        self.put(code_item(code)).await
    }

    async fn code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
    ) -> Result<Option<PendingCode>, StoreError> {
        self.get(item::key(keys::user_pk(user_id), keys::code_sk(purpose)))
            .await?
            .as_ref()
            .map(code_from)
            .transpose()
    }

    async fn take_code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::user_pk(user_id),
                keys::code_sk(purpose),
            )))
            .condition_expression("#hash = :hash")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":hash", s(hash))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
