//! One store wrapper that passes every call to the store it wraps, so that the test
//! stores that watch or hold a few calls ([`crate::gate_store`], [`crate::lockout_log`])
//! say only what they do around those calls ([`Around`]) and not the ~50 methods
//! they leave alone: a method added to the `Store` traits is passed through here once.

use std::sync::Arc;

use async_trait::async_trait;
use twofa::audit::{EventType, SecurityEvent};
use twofa::clock::Timestamp;
use twofa::codes::{CodePurpose, PendingCode};
use twofa::devices::Device;
use twofa::ids::{AttemptId, CeremonyId, DeviceId, PasskeyId, SessionId, SignInId, UserId};
use twofa::lockout::LockoutPolicy;
use twofa::passkeys::{Ceremony, Passkey};
use twofa::policy::{Behaviour, TwoFactorSettings};
use twofa::sessions::Session;
use twofa::side::Side;
use twofa::store::{
    CodeStore, DeviceStore, EventStore, LoginRecord, Page, PageKey, PasskeyAdded, PasskeyStore,
    Rotation, ScanKey, SessionStore, Slot, Store, StoreError, Subject, Succeeded, Success,
    TenantStore, ThrottleStore, Unlocked, UserScan, UserStore,
};
use twofa::tenant::{Host, Tenant};
use twofa::throttle::{Limit, Taken, Window};
use twofa::user::{AdminStamp, Authenticator, User, UserPatch};

/// What a wrapper does instead of passing the few calls a test watches or holds; each
/// method is given the wrapped store and, by default, just passes the call to it.
#[async_trait]
pub trait Around: Send + Sync {
    /// Around `UserStore::update_user`.
    async fn update_user(
        &self,
        inner: &dyn Store,
        id: &UserId,
        patch: &UserPatch,
    ) -> Result<(), StoreError> {
        inner.update_user(id, patch).await
    }
    /// Around `UserStore::take_slot`.
    async fn take_slot(
        &self,
        inner: &dyn Store,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SignInId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        inner.take_slot(subject, attempt, sid, max, now).await
    }
    /// Around `UserStore::lock`.
    async fn lock(
        &self,
        inner: &dyn Store,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        inner.lock(subject, now, until, hard).await
    }
    /// Around `UserStore::succeed`.
    async fn succeed(
        &self,
        inner: &dyn Store,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        inner.succeed(id, success, now).await
    }
    /// Around `TenantStore::change_settings`.
    async fn change_settings(
        &self,
        inner: &dyn Store,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
        admin: Option<&AdminStamp>,
    ) -> Result<TwoFactorSettings, StoreError> {
        inner.change_settings(scope, from, to, admin).await
    }
}

/// The wrapper: `inner` answers every call, through `around` for the few it takes.
/// Clones share the wrapped store, and whatever state `around` keeps behind `Arc`s.
#[derive(Clone)]
pub struct PassThrough<A> {
    inner: Arc<dyn Store>,
    around: A,
}

impl<A> PassThrough<A> {
    /// Passes every call to `inner`, the few `A` takes through `around`.
    pub fn new(inner: Arc<dyn Store>, around: A) -> Self {
        Self { inner, around }
    }

    /// What the wrapper does around the calls it takes (the test reads its state).
    pub fn around(&self) -> &A {
        &self.around
    }
}

#[async_trait]
impl<A: Around> UserStore for PassThrough<A> {
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
        self.around.update_user(&*self.inner, id, patch).await
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
        sid: Option<&SignInId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        self.around
            .take_slot(&*self.inner, subject, attempt, sid, max, now)
            .await
    }
    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        self.around
            .lock(&*self.inner, subject, now, until, hard)
            .await
    }
    async fn succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        self.around.succeed(&*self.inner, id, success, now).await
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
    async fn unlock(
        &self,
        id: &UserId,
        request: &twofa::ids::RequestId,
        admin: Option<&twofa::user::AdminStamp>,
        now: Timestamp,
    ) -> Result<Unlocked, StoreError> {
        self.inner.unlock(id, request, admin, now).await
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
    async fn every_user(
        &self,
        after: Option<&ScanKey>,
        limit: usize,
    ) -> Result<UserScan, StoreError> {
        self.inner.every_user(after, limit).await
    }
    async fn rekey_email(&self, user: &User, key: &str) -> Result<(), StoreError> {
        self.inner.rekey_email(user, key).await
    }
}

#[async_trait]
impl<A: Around> EventStore for PassThrough<A> {
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
impl<A: Around> TenantStore for PassThrough<A> {
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError> {
        self.inner.create_tenant(tenant, admin).await
    }
    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError> {
        self.inner.tenant(key).await
    }
    async fn set_tenant_feature(
        &self,
        key: &str,
        feature: Behaviour,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        self.inner.set_tenant_feature(key, feature, admin).await
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
    async fn set_host_lockout(
        &self,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        self.inner.set_host_lockout(lockout, admin).await
    }
    async fn set_tenant_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        self.inner.set_tenant_lockout(key, lockout, admin).await
    }
    async fn change_settings(
        &self,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
        admin: Option<&AdminStamp>,
    ) -> Result<TwoFactorSettings, StoreError> {
        self.around
            .change_settings(&*self.inner, scope, from, to, admin)
            .await
    }
}

#[async_trait]
impl<A: Around> CodeStore for PassThrough<A> {
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
impl<A: Around> ThrottleStore for PassThrough<A> {
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
impl<A: Around> DeviceStore for PassThrough<A> {
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

#[async_trait]
impl<A: Around> SessionStore for PassThrough<A> {
    async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        self.inner.put_session(session).await
    }
    async fn session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Option<Session>, StoreError> {
        self.inner.session(user_id, session_id).await
    }
    async fn sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError> {
        self.inner.sessions(user_id).await
    }
    async fn user_and_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(Option<User>, Option<Session>), StoreError> {
        self.inner.user_and_session(user_id, session_id).await
    }
    async fn rotate_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        rotation: &Rotation,
    ) -> Result<bool, StoreError> {
        self.inner
            .rotate_session(user_id, session_id, rotation)
            .await
    }
    async fn restamp_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        stamp: &str,
    ) -> Result<bool, StoreError> {
        self.inner.restamp_session(user_id, session_id, stamp).await
    }
    async fn end_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.end_session(user_id, session_id, now).await
    }
    async fn end_sessions(&self, user_id: &UserId) -> Result<(), StoreError> {
        self.inner.end_sessions(user_id).await
    }
}

#[async_trait]
impl<A: Around> PasskeyStore for PassThrough<A> {
    async fn add_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<PasskeyAdded, StoreError> {
        self.inner.add_passkey(user_id, side, passkey, patch).await
    }
    async fn rename_passkey(
        &self,
        user_id: &UserId,
        passkey_id: &PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.inner.rename_passkey(user_id, passkey_id, name).await
    }
    async fn remove_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        self.inner
            .remove_passkey(user_id, side, passkey, patch)
            .await
    }
    async fn credential_owner(
        &self,
        side: &Side,
        credential_id: &str,
    ) -> Result<Option<UserId>, StoreError> {
        self.inner.credential_owner(side, credential_id).await
    }
    async fn forget_credentials(
        &self,
        side: &Side,
        credential_ids: &[String],
    ) -> Result<(), StoreError> {
        self.inner.forget_credentials(side, credential_ids).await
    }
    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        self.inner.put_ceremony(ceremony).await
    }
    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        taker: &AttemptId,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError> {
        self.inner.take_ceremony(id, taker, now).await
    }
}
