//! The embedded store: everything in one mutex-guarded map set. Used by the local
//! API and by fast tests; behaves as the DynamoDB adapter does (the shared suite
//! checks), including the atomic conditional updates.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{CodeStore, DeviceStore, FailureCount, StoreError, TenantStore, ThrottleStore, UserStore};
use crate::clock::Timestamp;
use crate::codes::{CodePurpose, PendingCode};
use crate::devices::Device;
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::tenant::{Scope, Tenant};
use crate::throttle::Window;
use crate::user::{User, UserPatch};

#[derive(Default)]
struct State {
    users: HashMap<String, User>,
    emails: HashMap<(String, String), String>,
    tenants: HashMap<String, Tenant>,
    host_settings: Option<TwoFactorSettings>,
    codes: HashMap<(String, CodePurpose), PendingCode>,
    windows: HashMap<String, Window>,
    devices: HashMap<(String, String), Device>,
}

/// An in-memory [`super::Store`].
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    reads: AtomicUsize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many read operations were served; tests use it to count round trips.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn read(&self) -> std::sync::MutexGuard<'_, State> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.write()
    }

    fn write(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut s = self.write();
        let key = (user.scope.key(), user.email.to_lowercase());
        if s.emails.contains_key(&key) {
            return Err(StoreError::Conflict("email"));
        }
        s.emails.insert(key, user.id.clone());
        s.users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    async fn user_by_email(&self, scope: &Scope, email_key: &str) -> Result<Option<User>, StoreError> {
        let s = self.read();
        Ok(s.emails
            .get(&(scope.key(), email_key.to_string()))
            .and_then(|id| s.users.get(id))
            .cloned())
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.read().users.get(id).cloned())
    }

    async fn update_user(&self, id: &str, patch: &UserPatch) -> Result<(), StoreError> {
        let mut s = self.write();
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        patch.apply(u);
        Ok(())
    }

    async fn record_failure(&self, id: &str, now: Timestamp) -> Result<FailureCount, StoreError> {
        let mut s = self.write();
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        match u.lockout_end {
            Some(end) if end > now => Ok(FailureCount::Locked(end)),
            _ => {
                u.failed_count += 1;
                Ok(FailureCount::Counted(u.failed_count))
            }
        }
    }

    async fn lock(&self, id: &str, until: Timestamp) -> Result<(), StoreError> {
        let mut s = self.write();
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        u.lockout_end = Some(until);
        u.failed_count = 0;
        u.pending_sign_in = None;
        Ok(())
    }

    async fn complete_sign_in(&self, id: &str, sid: &str) -> Result<bool, StoreError> {
        let mut s = self.write();
        let Some(u) = s.users.get_mut(id) else { return Ok(false) };
        if u.pending_sign_in.as_deref() != Some(sid) {
            return Ok(false);
        }
        u.pending_sign_in = None;
        u.failed_count = 0;
        Ok(true)
    }

    async fn advance_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let mut s = self.write();
        let Some(u) = s.users.get_mut(id) else { return Ok(false) };
        if u.totp_last_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        u.totp_last_step = Some(step);
        Ok(true)
    }

    async fn consume_recovery_code(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let mut s = self.write();
        let Some(u) = s.users.get_mut(id) else { return Ok(false) };
        let before = u.recovery_codes.len();
        u.recovery_codes.retain(|h| h != hash);
        Ok(u.recovery_codes.len() < before)
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError> {
        let mut s = self.write();
        let key = tenant.name.to_ascii_lowercase();
        if s.tenants.contains_key(&key) {
            return Err(StoreError::Conflict("tenant"));
        }
        let email_key = (admin.scope.key(), admin.email.to_lowercase());
        if s.emails.contains_key(&email_key) {
            return Err(StoreError::Conflict("email"));
        }
        s.tenants.insert(key, tenant.clone());
        s.emails.insert(email_key, admin.id.clone());
        s.users.insert(admin.id.clone(), admin.clone());
        Ok(())
    }

    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(self.read().tenants.get(key).cloned())
    }

    async fn set_tenant_feature(&self, key: &str, feature: Behaviour) -> Result<(), StoreError> {
        let mut s = self.write();
        s.tenants.get_mut(key).ok_or(StoreError::NotFound)?.feature = feature;
        Ok(())
    }

    async fn set_tenant_settings(&self, key: &str, settings: &TwoFactorSettings) -> Result<(), StoreError> {
        let mut s = self.write();
        s.tenants.get_mut(key).ok_or(StoreError::NotFound)?.settings = settings.clone();
        Ok(())
    }

    async fn host_settings(&self) -> Result<Option<TwoFactorSettings>, StoreError> {
        Ok(self.read().host_settings.clone())
    }

    async fn set_host_settings(&self, settings: &TwoFactorSettings) -> Result<(), StoreError> {
        self.write().host_settings = Some(settings.clone());
        Ok(())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError> {
        self.write().codes.insert((code.user_id.clone(), code.purpose), code.clone());
        Ok(())
    }

    async fn code(&self, user_id: &str, purpose: CodePurpose) -> Result<Option<PendingCode>, StoreError> {
        Ok(self.read().codes.get(&(user_id.to_string(), purpose)).cloned())
    }

    async fn take_code(&self, user_id: &str, purpose: CodePurpose, hash: &str) -> Result<bool, StoreError> {
        let mut s = self.write();
        let key = (user_id.to_string(), purpose);
        if s.codes.get(&key).is_some_and(|c| c.hash == hash) {
            s.codes.remove(&key);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn delete_code(&self, user_id: &str, purpose: CodePurpose) -> Result<(), StoreError> {
        self.write().codes.remove(&(user_id.to_string(), purpose));
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn windows(&self, keys: &[String]) -> Result<Vec<Option<Window>>, StoreError> {
        let s = self.read();
        Ok(keys.iter().map(|k| s.windows.get(k).copied()).collect())
    }

    async fn replace_windows(&self, keys: &[String], old: &[Option<Window>], new: &[Window]) -> Result<bool, StoreError> {
        let mut s = self.write();
        if keys.iter().zip(old).any(|(k, o)| s.windows.get(k) != o.as_ref()) {
            return Ok(false);
        }
        for (k, w) in keys.iter().zip(new) {
            s.windows.insert(k.clone(), *w);
        }
        Ok(true)
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.write().devices.insert((device.user_id.clone(), device.device_id.clone()), device.clone());
        Ok(())
    }

    async fn device(&self, user_id: &str, device_id: &str) -> Result<Option<Device>, StoreError> {
        Ok(self.read().devices.get(&(user_id.to_string(), device_id.to_string())).cloned())
    }

    async fn devices(&self, user_id: &str) -> Result<Vec<Device>, StoreError> {
        let s = self.read();
        let mut list: Vec<Device> = s.devices.values().filter(|d| d.user_id == user_id).cloned().collect();
        list.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(list)
    }

    async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<bool, StoreError> {
        Ok(self.write().devices.remove(&(user_id.to_string(), device_id.to_string())).is_some())
    }

    async fn delete_devices(&self, user_id: &str) -> Result<(), StoreError> {
        self.write().devices.retain(|(u, _), _| u != user_id);
        Ok(())
    }

    async fn touch_device(&self, user_id: &str, device_id: &str, now: Timestamp) -> Result<(), StoreError> {
        if let Some(d) = self.write().devices.get_mut(&(user_id.to_string(), device_id.to_string())) {
            d.last_used_at = now;
        }
        Ok(())
    }
}
