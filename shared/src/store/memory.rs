//! The embedded store: everything in one mutex-guarded map set. Used by the local
//! API and by fast tests; behaves as the DynamoDB adapter does (the shared suite
//! checks), including the atomic conditional updates.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{
    CodeStore, DeviceStore, EventStore, LoginRecord, Page, PageKey, PasskeyAdded, PasskeyStore,
    Rotation, STAMP, ScanKey, SessionStore, Slot, Spend, StoreError, Subject, Succeeded, Success,
    TenantStore, ThrottleStore, Unlocked, UserScan, UserStore, stored_email, stored_phone,
};
use crate::audit::{EventType, SecurityEvent};
use crate::clock::Timestamp;
use crate::codes::{CodePurpose, PendingCode};
use crate::devices::Device;
use crate::email::Email;
use crate::ids::{
    AttemptId, CeremonyId, DeviceId, PasskeyId, RequestId, SessionId, SignInId, UserId,
};
use crate::lockout::LockoutPolicy;
use crate::passkeys::{Ceremony, MAX_PER_USER, Passkey};
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::sessions::Session;
use crate::side::Side;
use crate::tenant::{Host, Tenant};
use crate::throttle::{Limit, Taken, Window};
use crate::user::{AdminStamp, Authenticator, User, UserPatch};

#[derive(Default)]
struct State {
    users: HashMap<UserId, User>,
    emails: HashMap<(String, String), UserId>,
    tenants: HashMap<String, Tenant>,
    host_settings: Option<TwoFactorSettings>,
    host_lockout: Option<LockoutPolicy>,
    codes: HashMap<(UserId, CodePurpose), PendingCode>,
    windows: HashMap<String, Window>,
    devices: HashMap<(UserId, DeviceId), Device>,
    sessions: HashMap<(UserId, SessionId), Session>,
    /// Credential ids claimed in a side (side key, credential id): their user.
    credentials: HashMap<(String, String), UserId>,
    /// Ceremonies in flight, and who took each.
    ceremonies: HashMap<CeremonyId, (Ceremony, Option<AttemptId>)>,
    /// Lockout counters: a user's by id, an unknown email's by its keyed hash.
    counters: HashMap<CounterKey, Counter>,
    events: Vec<SecurityEvent>,
    /// Events of emails without an account, by the email's keyed hash: no list reads them.
    unknown_events: HashMap<String, Vec<SecurityEvent>>,
    /// Text a test planted in place of a user's parsed address or number, by user id.
    planted: HashMap<UserId, Planted>,
}

/// Stored text in place of a parsed field, as a hand-edited DynamoDB item would hold
/// it: every read parses it as the DynamoDB adapter parses its attributes.
#[derive(Default)]
struct Planted {
    email: Option<String>,
    phone_number: Option<String>,
}

/// `u` as a read returns it: planted text parsed, and unparsable text a corrupt item.
fn read_back(planted: &HashMap<UserId, Planted>, u: &User) -> Result<User, StoreError> {
    let mut u = u.clone();
    if let Some(p) = planted.get(&u.id) {
        if let Some(text) = &p.email {
            u.email = stored_email("email", text, Some(&u.email.key()))?;
        }
        if let Some(text) = &p.phone_number {
            u.phone_number = Some(stored_phone("phone_number", text)?);
        }
    }
    Ok(u)
}

impl State {
    fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.users
            .get(id)
            .map(|u| read_back(&self.planted, u))
            .transpose()
    }

    /// Whether the administrator a change is held to (if any) still has the stamp.
    fn admin_holds(&self, admin: Option<&AdminStamp>) -> bool {
        admin.is_none_or(|a| {
            self.users
                .get(&a.admin)
                .is_some_and(|u| u.security_stamp == a.stamp)
        })
    }

    /// A patch naming the number writes over planted text, as an update writes over an attribute.
    fn patched(&mut self, id: &UserId, patch: &UserPatch) {
        if patch.phone_number.is_some()
            && let Some(p) = self.planted.get_mut(id)
        {
            p.phone_number = None;
        }
    }
}

/// A [`Subject`] owned, as a map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CounterKey {
    User(UserId),
    Unknown(String),
}

impl From<Subject<'_>> for CounterKey {
    fn from(s: Subject<'_>) -> Self {
        match s {
            Subject::User(id) => CounterKey::User(id.clone()),
            Subject::Unknown(k) => CounterKey::Unknown(k.to_string()),
        }
    }
}

/// The streak (a user's count and lock live on the user), and an unknown email's
/// whole counter. DynamoDB's TTL on unknown counters has no twin here: the process is short-lived.
#[derive(Debug, Clone, Default)]
struct Counter {
    count: u32,
    lockout_end: Option<Timestamp>,
    streak: u32,
    /// When the lock after `HARD_LIMIT` consecutive failures ends (an unlock does not end it).
    hard_lock_end: Option<Timestamp>,
    /// The attempts whose slots are counted and not given back or reset, as DynamoDB keeps them.
    held: HashSet<AttemptId>,
    /// The latest successes and unlocks, which a retry of theirs finds (DynamoDB's
    /// client request tokens do this there): what a retry that lands after other
    /// writes must be answered with.
    recent: VecDeque<Recent>,
}

/// A success or an unlock that applied, remembered for its retry.
#[derive(Debug, Clone, PartialEq)]
enum Recent {
    Success(AttemptId),
    Unlock(RequestId),
}

impl Counter {
    /// How many of the latest successes and unlocks are remembered: more than a
    /// user's writes during any retry's backoff.
    const RECENT: usize = 16;

    fn remember(&mut self, done: Recent) {
        if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(done);
    }
}

/// The first `limit` of `sorted` (already past the start), and where the next page starts.
fn page<T>(mut sorted: Vec<(String, UserId, T)>, limit: usize) -> Page<T> {
    let more = sorted.len() > limit;
    sorted.truncate(limit);
    let next = if more {
        sorted.last().map(|(sort, user_id, _)| PageKey {
            sort: sort.clone(),
            user_id: user_id.clone(),
        })
    } else {
        None
    };
    Page {
        items: sorted.into_iter().map(|(_, _, t)| t).collect(),
        next,
    }
}

/// Events matching `keep`, newest first, after `after`.
fn event_page(
    events: &[SecurityEvent],
    keep: impl Fn(&SecurityEvent) -> bool,
    after: Option<&PageKey>,
    limit: usize,
) -> Page<SecurityEvent> {
    let mut list: Vec<(String, UserId, SecurityEvent)> = events
        .iter()
        .filter(|e| keep(e))
        .map(|e| (e.sort_key(), e.user_id.clone(), e.clone()))
        .filter(|(k, _, _)| after.is_none_or(|a| *k < a.sort))
        .collect();
    list.sort_by(|a, b| b.0.cmp(&a.0));
    page(list, limit)
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

    /// The events recorded for an email without an account, under its keyed hash:
    /// no route reads them, the store suite does.
    #[cfg(any(test, feature = "testing"))]
    pub fn unknown_events(&self, key: &str) -> Vec<SecurityEvent> {
        self.write()
            .unknown_events
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// Puts `text` where a user's `attribute` (`"email"` or `"phone_number"`, the
    /// DynamoDB attribute names) is held, unparsed, as a hand edit of the table would:
    /// the store suite checks that both stores read it back the same way.
    #[cfg(any(test, feature = "testing"))]
    pub fn plant_stored_text(&self, user_id: &UserId, attribute: &str, text: &str) {
        let mut s = self.write();
        let p = s.planted.entry(user_id.clone()).or_default();
        match attribute {
            "email" => p.email = Some(text.to_string()),
            "phone_number" => p.phone_number = Some(text.to_string()),
            other => panic!("the memory store holds no text for {other}"),
        }
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut s = self.write();
        let key = (user.side.key(), user.email.key());
        if s.emails.contains_key(&key) {
            return Err(StoreError::Conflict("email"));
        }
        s.emails.insert(key, user.id.clone());
        s.users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    async fn user_by_email(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<User>, StoreError> {
        let s = self.read();
        match s.emails.get(&(scope.key(), email_key.to_string())) {
            Some(id) => s.user(id),
            None => Ok(None),
        }
    }

    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.read().user(id)
    }

    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<(), StoreError> {
        let mut s = self.write();
        if !s.admin_holds(patch.admin_stamp.as_ref()) {
            return Err(StoreError::Conflict(STAMP));
        }
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        if !patch.stamp_holds(u) {
            return match patch.written_over(u) {
                true => Ok(()),
                false => Err(StoreError::Conflict(STAMP)),
            };
        }
        patch.apply(u);
        s.patched(id, patch);
        if patch.reset_failures {
            s.counters
                .entry(CounterKey::User(id.clone()))
                .or_default()
                .streak = 0;
        }
        Ok(())
    }

    async fn update_user_if_authenticator(
        &self,
        id: &UserId,
        expected: Option<&Authenticator>,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        let Some(u) = s.users.get_mut(id) else {
            return Ok(false);
        };
        if !patch.stamp_holds(u) {
            return Ok(patch.written_over(u));
        }
        if u.authenticator.as_ref() != expected {
            return Ok(false);
        }
        patch.apply(u);
        s.patched(id, patch);
        if patch.reset_failures {
            s.counters
                .entry(CounterKey::User(id.clone()))
                .or_default()
                .streak = 0;
        }
        Ok(true)
    }

    async fn login_record(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<LoginRecord>, StoreError> {
        let s = self.read();
        Ok(s.emails
            .get(&(scope.key(), email_key.to_string()))
            .map(|id| LoginRecord {
                user_id: id.clone(),
                password_hash: s.users.get(id).map(|u| u.password_hash.clone()),
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
        let mut guard = self.write();
        let s = &mut *guard;
        let key = CounterKey::from(subject);
        if let CounterKey::User(id) = &key
            && !s.users.contains_key(id)
        {
            return Err(StoreError::NotFound);
        }
        let counter = s.counters.entry(key.clone()).or_default();
        let again = counter.held.contains(attempt);
        match key {
            CounterKey::User(id) => {
                let u = s.users.get_mut(&id).ok_or(StoreError::NotFound)?;
                if again {
                    return Ok(Slot::Taken {
                        user: Some(Box::new(read_back(&s.planted, u)?)),
                        count: u.failed_count,
                        streak: counter.streak,
                    });
                }
                if let Some(end) = u.lockout_end.filter(|end| *end > now) {
                    return Ok(Slot::Locked(end));
                }
                if sid.is_some() && u.pending_sign_in.as_ref() != sid {
                    return Ok(Slot::Ended);
                }
                if counter.streak >= super::HARD_LIMIT {
                    return Ok(Slot::Exhausted);
                }
                if u.failed_count >= max {
                    return Ok(Slot::Full);
                }
                u.failed_count += 1;
                counter.streak += 1;
                counter.held.insert(attempt.clone());
                Ok(Slot::Taken {
                    user: Some(Box::new(read_back(&s.planted, u)?)),
                    count: u.failed_count,
                    streak: counter.streak,
                })
            }
            CounterKey::Unknown(_) => {
                if again {
                    return Ok(Slot::Taken {
                        user: None,
                        count: counter.count,
                        streak: counter.streak,
                    });
                }
                if let Some(end) = counter.lockout_end.filter(|end| *end > now) {
                    return Ok(Slot::Locked(end));
                }
                if counter.streak >= super::HARD_LIMIT {
                    return Ok(Slot::Exhausted);
                }
                if counter.count >= max {
                    return Ok(Slot::Full);
                }
                counter.count += 1;
                counter.streak += 1;
                counter.held.insert(attempt.clone());
                Ok(Slot::Taken {
                    user: None,
                    count: counter.count,
                    streak: counter.streak,
                })
            }
        }
    }

    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        let mut guard = self.write();
        let s = &mut *guard;
        let key = CounterKey::from(subject);
        // A lock already on stands, unless a hard lock would end later (see the module
        // doc of `store`).
        let stands =
            |end: Option<Timestamp>| end.is_some_and(|end| end > now && (!hard || end >= until));
        if let CounterKey::User(id) = &key {
            let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
            if stands(u.lockout_end) {
                return Ok(());
            }
            u.lockout_end = Some(until);
            u.failed_count = 0;
            u.pending_sign_in = None;
        }
        let counter = s.counters.entry(key.clone()).or_default();
        if matches!(key, CounterKey::Unknown(_)) && stands(counter.lockout_end) {
            return Ok(());
        }
        counter.lockout_end = Some(until);
        counter.count = 0;
        counter.held.clear();
        if hard {
            counter.streak = 0;
            counter.hard_lock_end = Some(until);
        }
        Ok(())
    }

    async fn succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let mut guard = self.write();
        let s = &mut *guard;
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        let counter = s.counters.entry(CounterKey::User(id.clone())).or_default();
        if counter
            .recent
            .contains(&Recent::Success(success.attempt.clone()))
        {
            return Ok(Succeeded::Done);
        }
        if let Some(end) = u.lockout_end.filter(|end| *end > now) {
            return Ok(Succeeded::Locked(end));
        }
        if success.sid.is_some() && u.pending_sign_in.as_ref() != success.sid
            || !success.patch.stamp_holds(u)
        {
            return Ok(Succeeded::Ended);
        }
        if success
            .authenticator
            .is_some_and(|a| u.authenticator.as_ref() != Some(a))
        {
            return Ok(Succeeded::Changed);
        }
        match success.spend {
            Spend::Nothing => {}
            Spend::TotpStep(step) => {
                if u.totp_last_step.is_some_and(|last| last >= step) {
                    return Ok(Succeeded::Spent);
                }
                u.totp_last_step = Some(step);
            }
            Spend::RecoveryCode(hash) => {
                if !u.recovery_codes.iter().any(|h| h == hash) {
                    return Ok(Succeeded::Spent);
                }
                u.recovery_codes.retain(|h| h != hash);
            }
            Spend::Code(purpose, hash) => {
                let key = (id.clone(), purpose);
                if s.codes.get(&key).is_none_or(|c| c.hash != hash) {
                    return Ok(Succeeded::Spent);
                }
                s.codes.remove(&key);
            }
            Spend::Passkey(asserted) => {
                let Some(p) = u.passkeys.iter_mut().find(|p| p.id == asserted.passkey_id) else {
                    return Ok(Succeeded::Spent);
                };
                if p.counter != asserted.previous_counter {
                    return Ok(Succeeded::Spent);
                }
                p.counter = asserted.counter;
                p.backed_up = asserted.backed_up;
                p.last_used_at = Some(now);
            }
        }
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        success.patch.apply(u);
        if success.sid.is_some() {
            u.pending_sign_in = None;
        }
        let counter = s.counters.entry(CounterKey::User(id.clone())).or_default();
        counter.remember(Recent::Success(success.attempt.clone()));
        if success.release_only {
            // A reset since the slot was taken (lock, unlock, success) already took it
            // off the count: only a slot still held is given back.
            if counter.held.remove(success.attempt) {
                u.failed_count = u.failed_count.saturating_sub(1);
            }
            counter.streak = counter.streak.saturating_sub(1);
        } else {
            u.failed_count = 0;
            counter.streak = 0;
            counter.held.clear();
        }
        s.patched(id, success.patch);
        Ok(Succeeded::Done)
    }

    async fn unlock(
        &self,
        id: &UserId,
        request: &RequestId,
        admin: Option<&AdminStamp>,
        now: Timestamp,
    ) -> Result<Unlocked, StoreError> {
        let mut guard = self.write();
        let s = &mut *guard;
        if !s.admin_holds(admin) {
            return Err(StoreError::Conflict(STAMP));
        }
        let u = s.users.get_mut(id).ok_or(StoreError::NotFound)?;
        let counter = s.counters.entry(CounterKey::User(id.clone())).or_default();
        if counter.recent.contains(&Recent::Unlock(request.clone())) {
            return Ok(Unlocked::Done);
        }
        if let Some(end) = counter.hard_lock_end.filter(|end| *end > now) {
            return Ok(Unlocked::HardLocked(end));
        }
        u.lockout_end = None;
        u.failed_count = 0;
        // The streak stays: it bounds consecutive failures across locks, and an unlock is not a success.
        counter.lockout_end = None;
        counter.held.clear();
        counter.remember(Recent::Unlock(request.clone()));
        Ok(Unlocked::Done)
    }

    async fn users_in(
        &self,
        scope: &Side,
        email_prefix: &str,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        let s = self.read();
        let mut list: Vec<(String, UserId, User)> = s
            .users
            .values()
            .filter(|u| &u.side == scope)
            .map(|u| (u.email.key(), u.id.clone(), u))
            .filter(|(k, _, _)| k.starts_with(email_prefix) && after.is_none_or(|a| *k > a.sort))
            .map(|(k, id, u)| Ok((k, id, read_back(&s.planted, u)?)))
            .collect::<Result<_, StoreError>>()?;
        list.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page(list, limit))
    }

    async fn every_user(
        &self,
        after: Option<&ScanKey>,
        limit: usize,
    ) -> Result<UserScan, StoreError> {
        let s = self.read();
        let mut ids: Vec<&UserId> = s
            .users
            .keys()
            .filter(|id| after.is_none_or(|a| id.as_str() > a.partition.as_str()))
            .collect();
        ids.sort();
        let more = ids.len() > limit;
        ids.truncate(limit);
        let users = ids
            .iter()
            .filter_map(|id| s.user(id).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let next = match (more, ids.last()) {
            (true, Some(last)) => Some(ScanKey {
                partition: last.to_string(),
                sort: String::new(),
            }),
            _ => None,
        };
        Ok(UserScan { users, next })
    }

    async fn rekey_email(&self, user: &User, key: &str) -> Result<(), StoreError> {
        let mut s = self.write();
        let scope = user.side.key();
        let (old, new) = ((scope.clone(), user.email.key()), (scope, key.to_string()));
        if s.emails.contains_key(&new) {
            return Err(StoreError::Conflict("email"));
        }
        let stored = s.users.get(&user.id).map(|u| &u.email);
        if s.emails.get(&old) != Some(&user.id) || stored != Some(&user.email) {
            return Err(StoreError::Conflict("user"));
        }
        let moved = Email::from_stored_with_key(user.email.as_str(), key)
            .map_err(|_| StoreError::Corrupt("attribute email: not an email address".into()))?;
        s.emails.remove(&old);
        s.emails.insert(new, user.id.clone());
        if let Some(u) = s.users.get_mut(&user.id) {
            u.email = moved;
        }
        Ok(())
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn record_events(&self, events: &[SecurityEvent]) -> Result<(), StoreError> {
        self.write().events.extend_from_slice(events);
        Ok(())
    }

    async fn record_unknown_events(
        &self,
        key: &str,
        events: &[SecurityEvent],
    ) -> Result<(), StoreError> {
        self.write()
            .unknown_events
            .entry(key.to_string())
            .or_default()
            .extend_from_slice(events);
        Ok(())
    }

    async fn user_events(
        &self,
        user_id: &UserId,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        let s = self.read();
        Ok(event_page(
            &s.events,
            |e| e.user_id == user_id && event_type.is_none_or(|t| e.event_type == t),
            after,
            limit,
        ))
    }

    async fn side_events(
        &self,
        scope: &Side,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        let s = self.read();
        Ok(event_page(
            &s.events,
            |e| &e.side == scope && event_type.is_none_or(|t| e.event_type == t),
            after,
            limit,
        ))
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
        let email_key = (admin.side.key(), admin.email.key());
        if s.emails.contains_key(&email_key) {
            return Err(StoreError::Conflict("email"));
        }
        let stored = Tenant {
            host_lockout: s.host_lockout,
            ..tenant.clone()
        };
        s.tenants.insert(key, stored);
        s.emails.insert(email_key, admin.id.clone());
        s.users.insert(admin.id.clone(), admin.clone());
        Ok(())
    }

    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(self.read().tenants.get(key).cloned())
    }

    async fn set_tenant_feature(
        &self,
        key: &str,
        feature: Behaviour,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        let mut s = self.write();
        if !s.admin_holds(admin) {
            return Err(StoreError::Conflict(STAMP));
        }
        s.tenants.get_mut(key).ok_or(StoreError::NotFound)?.feature = feature;
        Ok(())
    }

    async fn set_tenant_settings(
        &self,
        key: &str,
        settings: &TwoFactorSettings,
    ) -> Result<(), StoreError> {
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

    async fn host(&self) -> Result<Host, StoreError> {
        let s = self.read();
        Ok(Host {
            settings: s.host_settings.clone(),
            lockout: s.host_lockout,
        })
    }

    async fn set_host_lockout(
        &self,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        let mut s = self.write();
        if !s.admin_holds(admin) {
            return Err(StoreError::Conflict(STAMP));
        }
        s.host_lockout = Some(*lockout);
        for t in s.tenants.values_mut() {
            t.host_lockout = Some(*lockout);
        }
        Ok(())
    }

    async fn set_tenant_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        let mut s = self.write();
        if !s.admin_holds(admin) {
            return Err(StoreError::Conflict(STAMP));
        }
        s.tenants.get_mut(key).ok_or(StoreError::NotFound)?.lockout = Some(*lockout);
        Ok(())
    }

    async fn change_settings(
        &self,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
        admin: Option<&AdminStamp>,
    ) -> Result<TwoFactorSettings, StoreError> {
        let mut s = self.write();
        if !s.admin_holds(admin) {
            return Err(StoreError::Conflict(STAMP));
        }
        let current = match scope {
            Side::Host => s
                .host_settings
                .get_or_insert_with(TwoFactorSettings::default),
            Side::Tenant(key) => &mut s.tenants.get_mut(key).ok_or(StoreError::NotFound)?.settings,
        };
        let moved = (from.behaviour != to.behaviour && current.behaviour != from.behaviour)
            || (from.users_can_change != to.users_can_change
                && current.users_can_change != from.users_can_change)
            || (from.remember_browser != to.remember_browser
                && current.remember_browser != from.remember_browser)
            || (from.allowed_providers != to.allowed_providers
                && current.allowed_providers != from.allowed_providers);
        if moved {
            return Err(StoreError::Conflict("settings"));
        }
        if from.behaviour != to.behaviour {
            current.behaviour = to.behaviour;
        }
        if from.users_can_change != to.users_can_change {
            current.users_can_change = to.users_can_change;
        }
        if from.remember_browser != to.remember_browser {
            current.remember_browser = to.remember_browser;
        }
        if from.allowed_providers != to.allowed_providers {
            current.allowed_providers = to.allowed_providers.clone();
        }
        Ok(current.clone())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError> {
        self.write()
            .codes
            .insert((code.user_id.clone(), code.purpose), code.clone());
        Ok(())
    }

    async fn code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
    ) -> Result<Option<PendingCode>, StoreError> {
        Ok(self.read().codes.get(&(user_id.clone(), purpose)).cloned())
    }

    async fn take_code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        let key = (user_id.clone(), purpose);
        if s.codes.get(&key).is_some_and(|c| c.hash == hash) {
            s.codes.remove(&key);
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn take_send(&self, limit: &Limit, now: Timestamp) -> Result<Taken, StoreError> {
        let mut s = self.write();
        match limit.take(s.windows.get(&limit.key).copied(), now) {
            Ok(w) => {
                s.windows.insert(limit.key.clone(), w);
                Ok(Taken::Counted(w))
            }
            Err(full) => Ok(Taken::Full(full)),
        }
    }

    async fn give_back_send(&self, key: &str, window_end: Timestamp) -> Result<(), StoreError> {
        if let Some(w) = self
            .write()
            .windows
            .get_mut(key)
            .filter(|w| w.window_end == window_end && w.count > 0)
        {
            w.count -= 1;
        }
        Ok(())
    }

    async fn send_window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        Ok(self.read().windows.get(key).copied())
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        let mut s = self.write();
        s.devices.insert(
            (device.user_id.clone(), device.device_id.clone()),
            device.clone(),
        );
        // The oldest of the user's other browsers beyond the bound are forgotten (never
        // the one just remembered), as the DynamoDB store does.
        let mut theirs: Vec<(Timestamp, DeviceId)> = s
            .devices
            .values()
            .filter(|d| d.user_id == device.user_id && d.device_id != device.device_id)
            .map(|d| (d.created_at, d.device_id.clone()))
            .collect();
        theirs.sort();
        let excess = (theirs.len() + 1).saturating_sub(crate::devices::MAX_PER_USER);
        for (_, id) in &theirs[..excess] {
            s.devices.remove(&(device.user_id.clone(), id.clone()));
        }
        Ok(())
    }

    async fn device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        Ok(self
            .read()
            .devices
            .get(&(user_id.clone(), device_id.clone()))
            .cloned())
    }

    async fn devices(&self, user_id: &UserId) -> Result<Vec<Device>, StoreError> {
        let s = self.read();
        let mut list: Vec<Device> = s
            .devices
            .values()
            .filter(|d| d.user_id == user_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(list)
    }

    async fn delete_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.write();
        let key = (user_id.clone(), device_id.clone());
        let within_grace = state
            .devices
            .get(&key)
            .is_some_and(|d| d.expires_at.saturating_add(super::TTL_GRACE_SECONDS) > now);
        Ok(within_grace && state.devices.remove(&key).is_some())
    }

    async fn delete_devices(&self, user_id: &UserId) -> Result<(), StoreError> {
        self.write().devices.retain(|(u, _), _| u != user_id);
        Ok(())
    }

    async fn touch_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(d) = self
            .write()
            .devices
            .get_mut(&(user_id.clone(), device_id.clone()))
        {
            d.last_used_at = now;
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut s = self.write();
        s.sessions.insert(
            (session.user_id.clone(), session.session_id.clone()),
            session.clone(),
        );
        // The oldest of the user's other sessions beyond the bound end (never the one
        // just started), as the DynamoDB store does.
        let mut theirs: Vec<(Timestamp, SessionId)> = s
            .sessions
            .values()
            .filter(|x| x.user_id == session.user_id && x.session_id != session.session_id)
            .map(|x| (x.created_at, x.session_id.clone()))
            .collect();
        theirs.sort();
        let excess = (theirs.len() + 1).saturating_sub(crate::sessions::MAX_PER_USER);
        for (_, id) in &theirs[..excess] {
            s.sessions.remove(&(session.user_id.clone(), id.clone()));
        }
        Ok(())
    }

    async fn session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Option<Session>, StoreError> {
        Ok(self
            .read()
            .sessions
            .get(&(user_id.clone(), session_id.clone()))
            .cloned())
    }

    async fn sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError> {
        let s = self.read();
        let mut list: Vec<Session> = s
            .sessions
            .values()
            .filter(|x| x.user_id == user_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.session_id).cmp(&(b.created_at, &b.session_id)));
        Ok(list)
    }

    async fn user_and_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(Option<User>, Option<Session>), StoreError> {
        // One read under the one lock: one round trip, as DynamoDB's two reads side by side.
        let s = self.read();
        let session = s
            .sessions
            .get(&(user_id.clone(), session_id.clone()))
            .cloned();
        Ok((s.user(user_id)?, session))
    }

    async fn rotate_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        rotation: &Rotation,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        let user_holds = s.users.get(user_id).is_some_and(|u| {
            u.security_stamp == rotation.user_stamp
                && u.lockout_end.is_none_or(|end| end <= rotation.now)
        });
        let Some(session) = s.sessions.get_mut(&(user_id.clone(), session_id.clone())) else {
            return Ok(false);
        };
        let Some(next) = rotation.from_generation.checked_add(1) else {
            return Ok(false);
        };
        if session.generation != rotation.from_generation || session.expires_at <= rotation.now {
            // An earlier try of this very rotation (its answer lost) is this one's success.
            return Ok(session.generation == next && session.rotation_id == rotation.rotation_id);
        }
        if !user_holds {
            return Ok(false);
        }
        session.generation = next;
        session.refresh_hash = rotation.refresh_hash.clone();
        session.rotation_id = rotation.rotation_id.clone();
        session.last_used_at = rotation.now;
        Ok(true)
    }

    async fn restamp_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        stamp: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        Ok(
            match s.sessions.get_mut(&(user_id.clone(), session_id.clone())) {
                Some(session) => {
                    session.security_stamp = stamp.to_string();
                    true
                }
                None => false,
            },
        )
    }

    async fn end_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        let key = (user_id.clone(), session_id.clone());
        let within_grace = s
            .sessions
            .get(&key)
            .is_some_and(|x| x.expires_at.saturating_add(super::TTL_GRACE_SECONDS) > now);
        Ok(within_grace && s.sessions.remove(&key).is_some())
    }

    async fn end_sessions(&self, user_id: &UserId) -> Result<(), StoreError> {
        self.write().sessions.retain(|(u, _), _| u != user_id);
        Ok(())
    }
}

#[async_trait]
impl PasskeyStore for MemoryStore {
    async fn add_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<PasskeyAdded, StoreError> {
        let mut s = self.write();
        let claim = (side.key(), passkey.credential_id.clone());
        let Some(u) = s.users.get(user_id) else {
            return Ok(PasskeyAdded::Ended);
        };
        if !patch.stamp_holds(u) {
            return Ok(match patch.written_over(u) {
                true => PasskeyAdded::Done,
                false => PasskeyAdded::Ended,
            });
        }
        if s.credentials.contains_key(&claim) {
            return Ok(PasskeyAdded::Taken);
        }
        if u.passkeys.len() >= MAX_PER_USER {
            return Ok(PasskeyAdded::Full);
        }
        s.credentials.insert(claim, user_id.clone());
        let u = s.users.get_mut(user_id).ok_or(StoreError::NotFound)?;
        patch.apply(u);
        u.passkeys.push(passkey.clone());
        Ok(PasskeyAdded::Done)
    }

    async fn rename_passkey(
        &self,
        user_id: &UserId,
        passkey_id: &PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        let Some(p) = s
            .users
            .get_mut(user_id)
            .and_then(|u| u.passkeys.iter_mut().find(|p| p.id == *passkey_id))
        else {
            return Ok(false);
        };
        p.name = name.to_string();
        Ok(true)
    }

    async fn remove_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<bool, StoreError> {
        let mut s = self.write();
        let Some(u) = s.users.get_mut(user_id) else {
            return Ok(false);
        };
        if !patch.stamp_holds(u) {
            return Ok(patch.written_over(u));
        }
        if !u.passkeys.iter().any(|p| p.id == passkey.id) {
            return Ok(false);
        }
        patch.apply(u);
        u.passkeys.retain(|p| p.id != passkey.id);
        s.credentials
            .remove(&(side.key(), passkey.credential_id.clone()));
        Ok(true)
    }

    async fn credential_owner(
        &self,
        side: &Side,
        credential_id: &str,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .read()
            .credentials
            .get(&(side.key(), credential_id.to_string()))
            .cloned())
    }

    async fn forget_credentials(
        &self,
        side: &Side,
        credential_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.write();
        for id in credential_ids {
            s.credentials.remove(&(side.key(), id.clone()));
        }
        Ok(())
    }

    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        self.write()
            .ceremonies
            .insert(ceremony.id.clone(), (ceremony.clone(), None));
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        taker: &AttemptId,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError> {
        let mut s = self.write();
        let Some((ceremony, taken_by)) = s.ceremonies.get_mut(id) else {
            return Ok(None);
        };
        if ceremony.expires_at <= now || taken_by.as_ref().is_some_and(|t| t != taker) {
            return Ok(None);
        }
        *taken_by = Some(taker.clone());
        Ok(Some(ceremony.clone()))
    }
}
