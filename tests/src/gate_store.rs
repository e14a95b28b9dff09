//! A store that passes everything to the store it wraps, except that a test may
//! hold one chosen write (the next settings change, or the next user update a
//! predicate picks) until it releases it: the request that made the write waits
//! there, so a race test can run other requests in exactly that window.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;
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

/// The store's half of one hold: tells the test the write arrived, then waits.
struct Hold {
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl Hold {
    async fn wait(self) {
        let _ = self.reached.send(());
        let _ = self.release.await;
    }
}

/// The test's half of one hold.
pub struct Held {
    reached: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Waits until the held write arrived at the store (and is waiting).
    pub async fn reached(&mut self) {
        (&mut self.reached).await.expect("the held write arrived");
    }
    /// Lets the held write through.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

fn pair() -> (Hold, Held) {
    let (reached_tx, reached_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel();
    (
        Hold {
            reached: reached_tx,
            release: release_rx,
        },
        Held {
            reached: reached_rx,
            release: release_tx,
        },
    )
}

type Pick = Box<dyn Fn(&UserPatch) -> bool + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The wrapper; clones share their holds.
#[derive(Clone)]
pub struct GateStore {
    inner: Arc<dyn Store>,
    settings_hold: Arc<Mutex<Option<Hold>>>,
    user_hold: Arc<Mutex<Option<(Pick, Hold)>>>,
    success_hold: Arc<Mutex<Option<(Pick, Hold)>>>,
}

impl GateStore {
    /// Passes everything to `inner`.
    pub fn over(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            settings_hold: Arc::default(),
            user_hold: Arc::default(),
            success_hold: Arc::default(),
        }
    }

    /// Holds the next `change_settings` until the test releases it.
    pub fn hold_next_settings_change(&self) -> Held {
        let (hold, held) = pair();
        *lock(&self.settings_hold) = Some(hold);
        held
    }

    /// Holds the next `succeed` (the success write of an attempt) whose patch `pick`
    /// chooses until the test releases it.
    pub fn hold_next_success(
        &self,
        pick: impl Fn(&UserPatch) -> bool + Send + Sync + 'static,
    ) -> Held {
        let (hold, held) = pair();
        *lock(&self.success_hold) = Some((Box::new(pick), hold));
        held
    }

    /// Holds the next `update_user` whose patch `pick` chooses until the test releases it.
    pub fn hold_next_user_update(
        &self,
        pick: impl Fn(&UserPatch) -> bool + Send + Sync + 'static,
    ) -> Held {
        let (hold, held) = pair();
        *lock(&self.user_hold) = Some((Box::new(pick), hold));
        held
    }
}

#[async_trait]
impl UserStore for GateStore {
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
        let held = {
            let mut slot = lock(&self.user_hold);
            match slot.as_ref() {
                Some((pred, _)) if pred(patch) => slot.take().map(|(_, h)| h),
                _ => None,
            }
        };
        if let Some(h) = held {
            h.wait().await;
        }
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
        self.inner.take_slot(subject, attempt, sid, max, now).await
    }
    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        self.inner.lock(subject, now, until, hard).await
    }
    async fn succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let held = {
            let mut slot = lock(&self.success_hold);
            match slot.as_ref() {
                Some((pred, _)) if pred(success.patch) => slot.take().map(|(_, h)| h),
                _ => None,
            }
        };
        if let Some(h) = held {
            h.wait().await;
        }
        self.inner.succeed(id, success, now).await
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
impl EventStore for GateStore {
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
impl TenantStore for GateStore {
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
        let held = lock(&self.settings_hold).take();
        if let Some(h) = held {
            h.wait().await;
        }
        self.inner.change_settings(scope, from, to).await
    }
}

#[async_trait]
impl CodeStore for GateStore {
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
impl ThrottleStore for GateStore {
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
impl DeviceStore for GateStore {
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
        now: Timestamp,
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
