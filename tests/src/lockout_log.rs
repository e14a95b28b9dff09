//! A store that notes every lockout write (slot, lock, success) with what it
//! returned, between two ticks of one clock shared by all requests, and passes
//! everything to the store it wraps. Race tests read it to tell the order the
//! store saw: replies and notices alone cannot tell a legitimate order (the right
//! answer finished, then a wrong one took the freed slot and locked) from a lost lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use twofa::audit::{EventType, SecurityEvent};
use twofa::clock::Timestamp;
use twofa::codes::{CodePurpose, PendingCode};
use twofa::devices::Device;
use twofa::ids::{AttemptId, DeviceId, SessionId, UserId};
use twofa::lockout::LockoutPolicy;
use twofa::policy::{Behaviour, TwoFactorSettings};
use twofa::side::Side;
use twofa::store::{
    CodeStore, DeviceStore, EventStore, LoginRecord, Page, PageKey, Slot, Store, StoreError,
    Subject, Succeeded, Success, TenantStore, ThrottleStore, Unlocked, UserStore,
};
use twofa::tenant::{Host, Tenant};
use twofa::throttle::{Limit, Taken, Window};
use twofa::user::{Authenticator, User, UserPatch};

/// What a lockout write returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noted {
    /// A slot: taken with this count, or refused (`None`).
    Slot(Option<u32>),
    /// A lock was written (or found on already).
    Lock,
    /// A success write and what it did; `release` when it only gave the slot back
    /// (a right password before a second factor, a code that was not a guess).
    Succeed {
        /// What the write did.
        done: Succeeded,
        /// Whether it only gave the slot back.
        release: bool,
    },
}

/// One lockout write: whose, which attempt, what it returned, and the ticks of the
/// shared clock read just before it was sent and just after it returned. The store
/// applied it somewhere between the two: a write that `ended` before another
/// `started` was applied first.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The user id, or the unknown email's key.
    pub subject: String,
    /// The attempt id (`None` for a lock).
    pub attempt: Option<String>,
    /// What it returned.
    pub noted: Noted,
    /// The tick before it was sent.
    pub started: u64,
    /// The tick after it returned.
    pub ended: u64,
}

/// The wrapper; clones share the log.
#[derive(Clone)]
pub struct LockoutLog {
    inner: Arc<dyn Store>,
    log: Arc<Mutex<Vec<Entry>>>,
    clock: Arc<AtomicU64>,
}

fn subject_key(s: Subject<'_>) -> String {
    match s {
        Subject::User(id) => id.to_string(),
        Subject::Unknown(key) => key.to_string(),
    }
}

impl LockoutLog {
    /// Notes the lockout writes made on `inner`.
    pub fn over(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            log: Arc::default(),
            clock: Arc::default(),
        }
    }

    /// Forgets what was noted so far.
    pub fn clear(&self) {
        self.entries().clear();
    }

    /// The writes noted for `subject`, in the order they started.
    pub fn of(&self, subject: &str) -> Vec<Entry> {
        let mut of: Vec<Entry> = self
            .entries()
            .iter()
            .filter(|e| e.subject == subject)
            .cloned()
            .collect();
        of.sort_by_key(|e| e.started);
        of
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    fn note(&self, subject: String, attempt: Option<&str>, noted: Noted, started: u64) {
        let ended = self.tick();
        self.entries().push(Entry {
            subject,
            attempt: attempt.map(str::to_string),
            noted,
            started,
            ended,
        });
    }
}

#[async_trait]
impl UserStore for LockoutLog {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.inner.create_user(user).await
    }
    async fn user_by_email(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(scope, email_key).await
    }
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.inner.user(id).await
    }
    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<(), StoreError> {
        self.inner.update_user(id, patch).await
    }
    async fn login_record(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<LoginRecord>, StoreError> {
        self.inner.login_record(scope, email_key).await
    }
    async fn take_slot(
        &self,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SessionId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        let started = self.tick();
        let slot = self
            .inner
            .take_slot(subject, attempt, sid, max, now)
            .await?;
        let count = match &slot {
            Slot::Taken { count, .. } => Some(*count),
            _ => None,
        };
        self.note(
            subject_key(subject),
            Some(attempt),
            Noted::Slot(count),
            started,
        );
        Ok(slot)
    }
    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        let started = self.tick();
        self.inner.lock(subject, now, until, hard).await?;
        self.note(subject_key(subject), None, Noted::Lock, started);
        Ok(())
    }
    async fn succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let started = self.tick();
        let done = self.inner.succeed(id, success, now).await?;
        self.note(
            id.to_string(),
            Some(success.attempt),
            Noted::Succeed {
                done,
                release: success.release_only,
            },
            started,
        );
        Ok(done)
    }
    async fn update_user_if_authenticator(
        &self,
        id: &UserId,
        expected: Option<&Authenticator>,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        self.inner
            .update_user_if_authenticator(id, expected, patch)
            .await
    }
    async fn unlock(&self, id: &UserId, now: Timestamp) -> Result<Unlocked, StoreError> {
        self.inner.unlock(id, now).await
    }
    async fn users_in(
        &self,
        scope: &Side,
        email_prefix: &str,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        self.inner.users_in(scope, email_prefix, after, limit).await
    }
}

#[async_trait]
impl EventStore for LockoutLog {
    async fn record_events(&self, events: &[SecurityEvent]) -> Result<(), StoreError> {
        self.inner.record_events(events).await
    }
    async fn record_unknown_events(
        &self,
        key: &str,
        events: &[SecurityEvent],
    ) -> Result<(), StoreError> {
        self.inner.record_unknown_events(key, events).await
    }
    async fn user_events(
        &self,
        user_id: &UserId,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        self.inner
            .user_events(user_id, event_type, after, limit)
            .await
    }
    async fn side_events(
        &self,
        scope: &Side,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        self.inner
            .side_events(scope, event_type, after, limit)
            .await
    }
}

#[async_trait]
impl TenantStore for LockoutLog {
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError> {
        self.inner.create_tenant(tenant, admin).await
    }
    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError> {
        self.inner.tenant(key).await
    }
    async fn set_tenant_feature(&self, key: &str, feature: Behaviour) -> Result<(), StoreError> {
        self.inner.set_tenant_feature(key, feature).await
    }
    async fn set_tenant_settings(
        &self,
        key: &str,
        settings: &TwoFactorSettings,
    ) -> Result<(), StoreError> {
        self.inner.set_tenant_settings(key, settings).await
    }
    async fn host_settings(&self) -> Result<Option<TwoFactorSettings>, StoreError> {
        self.inner.host_settings().await
    }
    async fn set_host_settings(&self, settings: &TwoFactorSettings) -> Result<(), StoreError> {
        self.inner.set_host_settings(settings).await
    }
    async fn host(&self) -> Result<Host, StoreError> {
        self.inner.host().await
    }
    async fn set_host_lockout(&self, lockout: &LockoutPolicy) -> Result<(), StoreError> {
        self.inner.set_host_lockout(lockout).await
    }
    async fn set_tenant_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
    ) -> Result<(), StoreError> {
        self.inner.set_tenant_lockout(key, lockout).await
    }
    async fn change_settings(
        &self,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
    ) -> Result<TwoFactorSettings, StoreError> {
        self.inner.change_settings(scope, from, to).await
    }
}

#[async_trait]
impl CodeStore for LockoutLog {
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError> {
        self.inner.put_code(code).await
    }
    async fn code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
    ) -> Result<Option<PendingCode>, StoreError> {
        self.inner.code(user_id, purpose).await
    }
    async fn take_code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
        hash: &str,
    ) -> Result<bool, StoreError> {
        self.inner.take_code(user_id, purpose, hash).await
    }
}

#[async_trait]
impl ThrottleStore for LockoutLog {
    async fn take_send(&self, limit: &Limit, now: Timestamp) -> Result<Taken, StoreError> {
        self.inner.take_send(limit, now).await
    }
    async fn give_back_send(&self, key: &str, window_end: Timestamp) -> Result<(), StoreError> {
        self.inner.give_back_send(key, window_end).await
    }
    async fn send_window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        self.inner.send_window(key).await
    }
}

#[async_trait]
impl DeviceStore for LockoutLog {
    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.inner.put_device(device).await
    }
    async fn device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        self.inner.device(user_id, device_id).await
    }
    async fn devices(&self, user_id: &UserId) -> Result<Vec<Device>, StoreError> {
        self.inner.devices(user_id).await
    }
    async fn delete_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: twofa::clock::Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.delete_device(user_id, device_id, now).await
    }
    async fn delete_devices(&self, user_id: &UserId) -> Result<(), StoreError> {
        self.inner.delete_devices(user_id).await
    }
    async fn touch_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.touch_device(user_id, device_id, now).await
    }
}
