//! The storage port: narrow traits, one per kind of record, each `Send + Sync` so a
//! handler takes only what it uses. Two adapters implement all of them: [`memory`]
//! (tests, the local API) and [`dynamo`] (one DynamoDB table). One conformance suite
//! (`shared/tests/store_suite.rs`) runs against both.
//!
//! Operations that guard security (lockout counters, single-use codes, TOTP steps,
//! recovery codes, the pending sign-in) are atomic conditional updates in the store,
//! never read-modify-write in the caller.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::codes::{CodePurpose, PendingCode};
use crate::devices::Device;
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::tenant::{Scope, Tenant};
use crate::throttle::Window;
use crate::user::{User, UserPatch};

pub mod dynamo;
pub mod memory;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (`"email"`, `"tenant"`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or refused the request.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read back.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// What counting a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCount {
    /// Counted: the failure count is now this.
    Counted(u32),
    /// Not counted: the account is locked until then.
    Locked(Timestamp),
}

/// Users and their security counters.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict("email")` if the email is taken in its scope.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// The user with this email key (lower case) in `scope`.
    async fn user_by_email(&self, scope: &Scope, email_key: &str) -> Result<Option<User>, StoreError>;
    /// The user with this id.
    async fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Changes some fields; `NotFound` if there is no such user.
    async fn update_user(&self, id: &str, patch: &UserPatch) -> Result<(), StoreError>;
    /// Counts a failed password or code, unless the account is locked at `now`.
    async fn record_failure(&self, id: &str, now: Timestamp) -> Result<FailureCount, StoreError>;
    /// Locks until `until`: resets the count and ends any sign-in in progress.
    async fn lock(&self, id: &str, until: Timestamp) -> Result<(), StoreError>;
    /// Ends the sign-in `sid` if it is still the pending one, resetting the failure
    /// count; `false` if it was not (used, replaced, or ended by a lock).
    async fn complete_sign_in(&self, id: &str, sid: &str) -> Result<bool, StoreError>;
    /// Records TOTP step `step` as used if it is later than the last one used; `false` on replay.
    async fn advance_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError>;
    /// Removes one recovery code hash if present; `false` if it was not (unknown or used).
    async fn consume_recovery_code(&self, id: &str, hash: &str) -> Result<bool, StoreError>;
}

/// Tenants and the two-factor settings of the host and of each tenant.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant with its first admin, atomically; `Conflict("tenant")` if the name is taken.
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError>;
    /// The tenant with this key (lower-case name).
    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError>;
    /// Sets the feature the host admin controls; `NotFound` if no such tenant.
    async fn set_tenant_feature(&self, key: &str, feature: Behaviour) -> Result<(), StoreError>;
    /// Sets the tenant admin's settings; `NotFound` if no such tenant.
    async fn set_tenant_settings(&self, key: &str, settings: &TwoFactorSettings) -> Result<(), StoreError>;
    /// The host's settings, if ever saved.
    async fn host_settings(&self) -> Result<Option<TwoFactorSettings>, StoreError>;
    /// Saves the host's settings.
    async fn set_host_settings(&self, settings: &TwoFactorSettings) -> Result<(), StoreError>;
}

/// Pending emailed and texted codes.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a code, replacing any pending one of the same user and purpose.
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError>;
    /// The pending code of a user for a purpose.
    async fn code(&self, user_id: &str, purpose: CodePurpose) -> Result<Option<PendingCode>, StoreError>;
    /// Deletes the pending code if its hash is `hash`; `false` if it was not there (used already).
    async fn take_code(&self, user_id: &str, purpose: CodePurpose, hash: &str) -> Result<bool, StoreError>;
    /// Deletes the pending code, whatever it is.
    async fn delete_code(&self, user_id: &str, purpose: CodePurpose) -> Result<(), StoreError>;
}

/// Send-limit windows (see [`crate::throttle`]).
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The current windows under these keys.
    async fn windows(&self, keys: &[String]) -> Result<Vec<Option<Window>>, StoreError>;
    /// Writes `new` under `keys` only if every window is still `old`; `false` if one moved.
    async fn replace_windows(&self, keys: &[String], old: &[Option<Window>], new: &[Window]) -> Result<bool, StoreError>;
}

/// Remembered browsers.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a remembered browser.
    async fn put_device(&self, device: &Device) -> Result<(), StoreError>;
    /// One remembered browser.
    async fn device(&self, user_id: &str, device_id: &str) -> Result<Option<Device>, StoreError>;
    /// All of a user's remembered browsers (expired ones may be included; callers filter).
    async fn devices(&self, user_id: &str) -> Result<Vec<Device>, StoreError>;
    /// Forgets one; `false` if there was none.
    async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<bool, StoreError>;
    /// Forgets all of a user's browsers.
    async fn delete_devices(&self, user_id: &str) -> Result<(), StoreError>;
    /// Notes a sign-in with this browser.
    async fn touch_device(&self, user_id: &str, device_id: &str, now: Timestamp) -> Result<(), StoreError>;
}

/// Everything a store holds.
pub trait Store: UserStore + TenantStore + CodeStore + ThrottleStore + DeviceStore {}

impl<T: UserStore + TenantStore + CodeStore + ThrottleStore + DeviceStore> Store for T {}
