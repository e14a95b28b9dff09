//! The storage port: narrow traits, one per kind of record, each `Send + Sync` so a
//! handler takes only what it uses. Two adapters implement all of them: [`memory`]
//! (tests, the local API) and [`dynamo`] (one DynamoDB table). One conformance suite
//! (`shared/tests/store_suite.rs`) runs against both.
//!
//! Operations that guard security (lockout counters, single-use codes, TOTP steps,
//! recovery codes, the pending sign-in) are atomic conditional updates in the store,
//! never read-modify-write in the caller. Counters many requests share (send
//! windows) are counted by one atomic add each, so concurrent requests never fail
//! each other; writes decided on a read (settings, the authenticator) carry what
//! was read as their condition. Expiry is decided from the item, not by whether it
//! is still there (see the `dynamo` module doc).
//!
//! # An attempt takes its slot before it is judged
//! Every password or code attempt first takes a slot ([`UserStore::take_slot`]): one
//! conditional write that counts it as a failure, only while the account is not
//! locked, fewer than `max` attempts are counted, and (for a second factor) the
//! sign-in is still pending. Only then is the password or code judged. A wrong one
//! stays counted (and locks the account when its slot was the last); a right one
//! ends with one conditional write ([`UserStore::succeed`]) that spends the factor,
//! completes the sign-in and resets the count, and that fails if the account locked
//! meanwhile. So guesses sent together get no more tries than guesses sent one by
//! one: the slots run out before anything is judged, whatever the concurrency. An
//! attempt whose answer never came (a crash, a timeout) stays counted: it is a
//! failure. So a slot is taken only while the request's deadline leaves time to
//! write it and its success (`timeouts::SLOT_NEEDS`): a stalled store then answers
//! 503 before anything is counted, rather than let the function time out between
//! the two with a right answer counted as wrong. When every slot is held and the account is not locked, the refused
//! attempt locks it ([`UserStore::lock`]), so a slot abandoned by a crash cannot
//! keep the account refusing forever; likewise when the abandoned slot was the
//! hundredth consecutive failure ([`Slot::Exhausted`]), the refused attempt writes
//! the 30-day lock that restarts the streak.
//!
//! Consecutive failures are bounded across lock periods too (NIST SP 800-63B 5.2.2:
//! at most 100 in 30 days): a second counter, the streak, counts failures and is
//! reset only by a success; at [`HARD_LIMIT`] the lock lasts [`HARD_LOCK_SECONDS`]
//! (30 days) and the streak starts again; an administrator's unlock neither resets
//! the streak nor ends that lock early ([`UserStore::unlock`]), since either would give
//! another hundred guesses. A lock never shortens or extends one already
//! on, except that the 30-day lock replaces a shorter one: the hundredth failure, raced
//! by a guess that found every slot held and locked for minutes, still locks for 30
//! days and restarts the streak (otherwise the streak would stay at the limit and refuse every attempt,
//! the right password included, for ever). `LOCKOUT_MAX_FAILED_ATTEMPTS` is capped at
//! 100 by the settings.
//!
//! Emails without an account count their failures too, on a counter keyed by the
//! email's keyed hash ([`Subject::Unknown`]), so that they lock exactly as a real
//! account does and a lock answer tells nothing about who has an account. The
//! counter is kept as long as an account's count is: only a success resets that,
//! and an email without an account never succeeds, so it has no TTL. Were it swept,
//! four failures, a wait past the sweep and a fifth would answer 401 for an email
//! without an account and 423 for an account nobody signed in to meanwhile. It
//! costs one small item per email ever tried, as many as the requests that tried
//! them at most.
//! That counter lives apart from the `EMAIL#` uniqueness guard: it never blocks a
//! registration. Their failures are recorded as events too, under the same key
//! ([`EventStore::record_unknown_events`]): an account's wrong password writes its
//! `sign_in_failed` event (with `locked_out` when it locks), and an unknown email
//! must cost the same requests, in the same order, or the time a 401 or 423 takes
//! would tell which emails have an account.
//!
//! # Retried writes
//! The SDK retries a write whose answer was lost, and another attempt of the same
//! user may land between the first try and the retry. Each lockout write knows its
//! own retry whatever landed in between:
//! - a slot adds the attempt's id to the set of slots held (`held_slots`, emptied
//!   by every reset of the count): a retried slot finds its id there and is not
//!   counted again;
//! - a success, a give-back and an unlock are each one-item transactions whose
//!   client request token names the attempt (the administrator's request, for
//!   an unlock) and the whole update: DynamoDB answers the retry as the first try was answered, without
//!   applying it again, so a right code spent by the first try is accepted, and a
//!   slot or a count is never given back or cleared twice.

use async_trait::async_trait;
use futures_util::future::try_join_all;

use crate::audit::{EventType, SecurityEvent};
use crate::clock::Timestamp;
use crate::codes::{CodePurpose, PendingCode};
use crate::devices::Device;
use crate::email::Email;
use crate::ids::{
    AttemptId, CeremonyId, DeviceId, PasskeyId, RequestId, SessionId, SignInId, UserId,
};
use crate::lockout::LockoutPolicy;
use crate::passkeys::{Asserted, Ceremony, Passkey};
use crate::phone::PhoneNumber;
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::sessions::Session;
use crate::side::Side;
use crate::tenant::{Host, Tenant};
use crate::throttle::{Limit, Taken, Window};
use crate::user::{AdminStamp, Authenticator, User, UserPatch};

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod memory;
pub mod rekey;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (`"email"`, `"tenant"`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or refused the request. The cause stays
    /// an error (the SDK's, with its chain), so the log can walk it.
    #[error("store unavailable: {}", chain(.0.as_ref()))]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored item could not be read back.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// The table exists but is not laid out as this store needs.
    #[error("wrong table: {0}")]
    WrongTable(String),
}

/// What [`StoreError::Conflict`] names when a patch written
/// [`UserPatch::under_stamp`] found the security stamp changed: the request acted
/// under a session that has ended since.
pub const STAMP: &str = "security_stamp";

/// An error and its sources, `a: b: c`, as one line for the log.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        // Some errors repeat their source's text in their own.
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// A stored address read back, as stored ([`Email::from_stored`]: an address
/// registered before addresses were normalised keeps its text), with the key its
/// record is stored under, or without one (a record written before records kept
/// it: keyed by its text in lower case). Text that does not have an address's
/// shape (written by hand) is a corrupt item for both stores alike: never a panic,
/// and never a default a handler would mistake for the user's address. The message
/// names the attribute, not the text, which is personal data.
pub fn stored_email(attribute: &str, text: &str, key: Option<&str>) -> Result<Email, StoreError> {
    match key {
        Some(key) => Email::from_stored_with_key(text, key),
        None => Email::from_stored(text),
    }
    .map_err(|_| StoreError::Corrupt(format!("attribute {attribute}: not an email address")))
}

/// The login record under one of `keys` ([`Email::lookup_keys`]), read at once so
/// that a second or third key (an account stored under the key an older rule gave)
/// costs no extra latency, and a known and an unknown address typed alike cost the
/// same reads. Where two keys hold an account (look-alike twins registered before
/// the rules made them one address), the most literal key's, the last of `keys`
/// that has one, is the typed address's own: each twin's owner still signs in to
/// their own account by typing the address as they registered it.
pub async fn login_record_under(
    store: &dyn UserStore,
    scope: &Side,
    keys: &[String],
) -> Result<Option<LoginRecord>, StoreError> {
    let found = try_join_all(keys.iter().map(|key| store.login_record(scope, key))).await?;
    Ok(found.into_iter().rev().flatten().next())
}

/// The user under one of `keys` ([`Email::lookup_keys`]), read and chosen as
/// [`login_record_under`] reads and chooses.
pub async fn user_under(
    store: &dyn UserStore,
    scope: &Side,
    keys: &[String],
) -> Result<Option<User>, StoreError> {
    let found = try_join_all(keys.iter().map(|key| store.user_by_email(scope, key))).await?;
    Ok(found.into_iter().rev().flatten().next())
}

/// A stored phone number read back; as [`stored_email`], but checked for shape only
/// (see [`PhoneNumber::from_stored`]).
pub fn stored_phone(attribute: &str, text: &str) -> Result<PhoneNumber, StoreError> {
    PhoneNumber::from_stored(text).map_err(|_| {
        StoreError::Corrupt(format!("attribute {attribute}: not an E.164 phone number"))
    })
}

/// How long an item with a logical expiry (a code, a device, a send window)
/// outlives it before DynamoDB's TTL may delete it, at any moment from then to days
/// later. Past it, the item is read as gone whether or not it was swept.
pub const TTL_GRACE_SECONDS: i64 = 86_400;

/// Consecutive failures (across lock periods) after which the lock is long.
pub const HARD_LIMIT: u32 = 100;
/// How long the lock after [`HARD_LIMIT`] consecutive failures lasts: 30 days, the
/// period NIST's bound of 100 counts over.
pub const HARD_LOCK_SECONDS: i64 = 30 * 86_400;

/// Whose lockout an attempt counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A user, by id.
    User(&'a UserId),
    /// An email without an account, by the keyed hash of its scope and address.
    Unknown(&'a str),
}

/// What taking a slot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Taken: the attempt is counted as a failure until it succeeds.
    Taken {
        /// The user as the write left it (`None` for an unknown email).
        user: Option<Box<User>>,
        /// Attempts counted since the last success or lock, this one included.
        count: u32,
        /// Failures since the last success, across locks, this one included.
        streak: u32,
    },
    /// Refused: locked until then.
    Locked(Timestamp),
    /// Refused: every slot is held by attempts not yet judged (or abandoned).
    Full,
    /// Refused: [`HARD_LIMIT`] consecutive failures are counted but the long lock they
    /// earn was never written (the hundredth attempt was abandoned); the refused
    /// attempt writes it, or the streak would refuse every attempt for ever.
    Exhausted,
    /// Refused: the sign-in the attempt is for is no longer pending.
    Ended,
}

/// What a right answer spends, in the same write that completes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spend<'a> {
    /// Nothing (a password).
    Nothing,
    /// A TOTP step, accepted only if later than the last one used.
    TotpStep(i64),
    /// A recovery code, by hash, removed if present.
    RecoveryCode(&'a str),
    /// The pending emailed or texted code, deleted if its hash is still this.
    Code(CodePurpose, &'a str),
    /// A passkey's assertion: its new counter, backup state and last use, written
    /// only while the passkey is still the user's and still holds the counter the
    /// assertion was judged against (two assertions racing with one counter: one wins).
    Passkey(&'a Asserted),
}

/// A right answer, written as one conditional write that holds only while the
/// account is not locked (and `sid`, when given, is still the pending sign-in).
#[derive(Debug, Clone)]
pub struct Success<'a> {
    /// The attempt's id (see the module doc on retries).
    pub attempt: &'a AttemptId,
    /// The sign-in this ends, if any.
    pub sid: Option<&'a SignInId>,
    /// What it spends.
    pub spend: Spend<'a>,
    /// Other changes made with it (a confirmed address, an enabled authenticator, a
    /// new pending sign-in).
    pub patch: &'a UserPatch,
    /// Only give the slot back, keeping earlier failures counted (a right password
    /// before a second factor); otherwise the counts reset. The count gets the slot
    /// back only while this attempt's slot is still held: a reset since (a lock, an
    /// unlock, a success) took it off already, and giving it back again would erase
    /// a failure counted after the reset.
    pub release_only: bool,
    /// Written only while the user's authenticator is still this one (the pending
    /// one a code was checked against); otherwise [`Succeeded::Changed`].
    pub authenticator: Option<&'a Authenticator>,
}

/// What a success write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Succeeded {
    /// Written (or written by an earlier try of the same attempt).
    Done,
    /// Refused: the account locked meanwhile, until then.
    Locked(Timestamp),
    /// Refused: the sign-in is no longer pending, or the patch was made
    /// [`UserPatch::under_stamp`] a stamp that is no longer the user's (the session
    /// the answer was given in has ended).
    Ended,
    /// Refused: the factor was spent already (used, replayed, replaced).
    Spent,
    /// Refused: the authenticator is no longer the one the answer was checked against.
    Changed,
}

/// What an unlock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlocked {
    /// The lock (if any) ended and the count cleared; the streak stays.
    Done,
    /// Refused: the lock after [`HARD_LIMIT`] consecutive failures is on until then.
    /// Ending it early would give another [`HARD_LIMIT`] guesses (it restarted the
    /// streak), so it ends only by itself or, after it, with a success.
    HardLocked(Timestamp),
}

/// What login reads under an email before the password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// The user's id.
    pub user_id: UserId,
    /// A copy of the password hash; the user item's is the truth (`None` for a
    /// record written before the copy was kept).
    pub password_hash: Option<String>,
}

/// Where the next page starts: just after the item with this sort key (a side's
/// email key for users, [`crate::audit::sort_key`] for events), which belongs to
/// this user. Adapters rebuild their start key from it; callers sign it into a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    /// The sort key of the last item of the page.
    pub sort: String,
    /// The user of that item.
    pub user_id: UserId,
}

/// One page of a list; `next` is `None` on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts.
    pub next: Option<PageKey>,
}

/// Users and their security counters.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict("email")` if the email is taken in its scope.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// The user with this email key ([`Email::key`]) in `scope`.
    async fn user_by_email(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<User>, StoreError>;
    /// The user with this id.
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// Changes some fields; `NotFound` if there is no such user, `Conflict(STAMP)`
    /// if the patch was made [`UserPatch::under_stamp`] a stamp that is no longer the user's.
    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<(), StoreError>;
    /// The user id and (a copy of) the password hash under an email key, from the
    /// one item the email names: what login needs before the password check.
    async fn login_record(
        &self,
        scope: &Side,
        email_key: &str,
    ) -> Result<Option<LoginRecord>, StoreError>;
    /// Takes a slot for attempt `attempt` (see the module doc): counts it while
    /// `subject` is not locked at `now`, fewer than `max` are counted, the streak is
    /// under [`HARD_LIMIT`], and `sid` (when given) is the pending sign-in. An unknown
    /// email's counter is created on first use. `NotFound` for a user that does not exist.
    async fn take_slot(
        &self,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SignInId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError>;
    /// Locks until `until` unless already locked at `now` (with `hard`: unless locked
    /// until `until` or later; a shorter lock gives way): resets the count, ends any
    /// sign-in in progress, and with `hard` restarts the streak.
    async fn lock(
        &self,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError>;
    /// Writes a right answer (see [`Success`]).
    async fn succeed(
        &self,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError>;
    /// Applies `patch` only while the user's authenticator is still `expected`
    /// (what the caller read and decided on: whether step-up was needed, whether
    /// there was one to replace); `false` if it changed meanwhile, there is no user,
    /// or the patch was made [`UserPatch::under_stamp`] a stamp that is no longer the user's.
    async fn update_user_if_authenticator(
        &self,
        id: &UserId,
        expected: Option<&Authenticator>,
        patch: &UserPatch,
    ) -> Result<bool, StoreError>;
    /// Ends a lock and clears the failure count, unless the lock on at `now` is the one
    /// [`HARD_LIMIT`] consecutive failures earned ([`Unlocked::HardLocked`], nothing
    /// changed). The streak stays either way: only a success resets it. `NotFound` if
    /// there is no such user. The same `request` again (a retry whose first try
    /// applied) is answered as the first was, and changes nothing: a failure counted
    /// after the unlock stays counted. An administrator's unlock (`admin`) is written
    /// only while the administrator still has the stamp its request read:
    /// `Conflict(STAMP)` otherwise.
    async fn unlock(
        &self,
        id: &UserId,
        request: &RequestId,
        admin: Option<&AdminStamp>,
        now: Timestamp,
    ) -> Result<Unlocked, StoreError>;
    /// The users of `scope` whose email key starts with `email_prefix` ([`Email::search_prefix`]),
    /// by email key, at most `limit`, after `after`.
    async fn users_in(
        &self,
        scope: &Side,
        email_prefix: &str,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<User>, StoreError>;
    /// Every user of every side (those the side index misses too), about `limit` a
    /// page, in no order of meaning, from where `after` stopped: an operator's walk
    /// ([`rekey::rekey_emails`]), never a request's (on DynamoDB a `Scan`).
    async fn every_user(
        &self,
        after: Option<&ScanKey>,
        limit: usize,
    ) -> Result<UserScan, StoreError>;
    /// Moves `user`'s email item from the key it is stored under (`user.email.key()`)
    /// to `key`, in one write with the user's record of its key: the address is then
    /// one account with every look-alike and case variant of it. `Conflict("email")`
    /// when an item is under `key` already (another account's, or this one's, moved
    /// meanwhile); `Conflict("user")` when the user's address or key is no longer
    /// what `user` holds, or there is no such user.
    async fn rekey_email(&self, user: &User, key: &str) -> Result<(), StoreError>;
}

/// Where a walk over every user ([`UserStore::every_user`]) goes on: the key of the
/// last item the store read, which only the store reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanKey {
    pub(crate) partition: String,
    pub(crate) sort: String,
}

/// One page of [`UserStore::every_user`]; `next` is `None` on the last page.
#[derive(Debug, Clone)]
pub struct UserScan {
    /// The users read.
    pub users: Vec<User>,
    /// Where the next page starts.
    pub next: Option<ScanKey>,
}

/// Security events, newest first.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores events, in one write request: an event costs its request one write, however many it records.
    async fn record_events(&self, events: &[SecurityEvent]) -> Result<(), StoreError>;
    /// Stores the events of an email without an account
    /// ([`SecurityEvent::unknown_email`]) under its keyed hash `key`, with the same
    /// requests [`EventStore::record_events`] makes for as many events, and kept as
    /// long: in no user's or side's list, read by no route.
    async fn record_unknown_events(
        &self,
        key: &str,
        events: &[SecurityEvent],
    ) -> Result<(), StoreError>;
    /// One user's events (of `event_type` only, if given), newest first, after `after`.
    async fn user_events(
        &self,
        user_id: &UserId,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError>;
    /// The events of a side's users (of `event_type` only, if given), newest first, after `after`.
    async fn side_events(
        &self,
        scope: &Side,
        event_type: Option<EventType>,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<Page<SecurityEvent>, StoreError>;
}

/// Tenants and the two-factor settings of the host and of each tenant.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant with its first admin, atomically; `Conflict("tenant")` if the
    /// name is taken. The stored tenant carries the host's lockout values as they are
    /// at that moment (whatever `tenant.host_lockout` says), and follows them after.
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError>;
    /// The tenant with this key (lower-case name).
    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError>;
    /// Sets the feature the host admin controls; `NotFound` if no such tenant.
    /// Held to `admin`'s stamp like [`TenantStore::change_settings`].
    async fn set_tenant_feature(
        &self,
        key: &str,
        feature: Behaviour,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError>;
    /// Sets the tenant admin's settings; `NotFound` if no such tenant.
    async fn set_tenant_settings(
        &self,
        key: &str,
        settings: &TwoFactorSettings,
    ) -> Result<(), StoreError>;
    /// The host's settings, if ever saved.
    async fn host_settings(&self) -> Result<Option<TwoFactorSettings>, StoreError>;
    /// Saves the host's settings, whole (seeding and tests; admins change them
    /// through [`TenantStore::change_settings`]), and nothing else of the host's:
    /// its lockout values stay.
    async fn set_host_settings(&self, settings: &TwoFactorSettings) -> Result<(), StoreError>;
    /// The host's two-factor settings and own lockout values, in one read.
    async fn host(&self) -> Result<Host, StoreError>;
    /// Saves the host's own lockout values and copies them into every tenant, whose
    /// item keeps them for when it has no values of its own: a later read of any
    /// tenant sees them.
    /// Held to `admin`'s stamp like [`TenantStore::change_settings`].
    async fn set_host_lockout(
        &self,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError>;
    /// Sets a tenant's own lockout values; `NotFound` if no such tenant.
    async fn set_tenant_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError>;
    /// Changes the fields of `scope`'s settings where `to` differs from `from` (what
    /// the caller read and decided on), only while each of those fields still holds
    /// its `from` value, and leaves the other fields as they are: two admins changing
    /// different fields at once both keep their change. Returns the settings as they
    /// are after (lockout values are not settings: they stay); `Conflict("settings")` if a field to change had moved, `NotFound`
    /// for a tenant that does not exist. An administrator's change (`admin`) is
    /// written only while the administrator still has the stamp its request read,
    /// in the same write: `Conflict(STAMP)` otherwise, and nothing written.
    async fn change_settings(
        &self,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
        admin: Option<&AdminStamp>,
    ) -> Result<TwoFactorSettings, StoreError>;
}

/// Pending emailed and texted codes.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a code, replacing any pending one of the same user and purpose.
    async fn put_code(&self, code: &PendingCode) -> Result<(), StoreError>;
    /// The pending code of a user for a purpose.
    async fn code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
    ) -> Result<Option<PendingCode>, StoreError>;
    /// Deletes the pending code if its hash is `hash`; `false` if it was not there (used already).
    async fn take_code(
        &self,
        user_id: &UserId,
        purpose: CodePurpose,
        hash: &str,
    ) -> Result<bool, StoreError>;
}

/// Send-limit windows (see [`crate::throttle`]): one counter per limit, each
/// counted by one atomic step, so concurrent sends under the same limit never
/// make each other fail.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one send under `limit` at `now` if its window has room, by the rule
    /// of [`Limit::take`]; `Full` (nothing counted) otherwise.
    async fn take_send(&self, limit: &Limit, now: Timestamp) -> Result<Taken, StoreError>;
    /// Uncounts one send from the window under `key` that ends at `window_end`;
    /// nothing if that window has since ended and started again. Applies once even
    /// when the store's client sends it again after a lost answer.
    async fn give_back_send(&self, key: &str, window_end: Timestamp) -> Result<(), StoreError>;
    /// The window under `key`, as stored (it may have ended).
    async fn send_window(&self, key: &str) -> Result<Option<Window>, StoreError>;
}

/// Remembered browsers.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a remembered browser, and forgets the oldest of the user's others
    /// (never this one) beyond [`crate::devices::MAX_PER_USER`].
    async fn put_device(&self, device: &Device) -> Result<(), StoreError>;
    /// One remembered browser.
    async fn device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
    ) -> Result<Option<Device>, StoreError>;
    /// All of a user's remembered browsers (expired ones may be included; callers filter).
    async fn devices(&self, user_id: &UserId) -> Result<Vec<Device>, StoreError>;
    /// Forgets one; `false` if there was none, or none that `now` is within its
    /// [`TTL_GRACE_SECONDS`] of: past it TTL may have swept the record or not, and
    /// the answer must not depend on which.
    async fn delete_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Forgets all of a user's browsers.
    async fn delete_devices(&self, user_id: &UserId) -> Result<(), StoreError>;
    /// Notes a sign-in with this browser.
    async fn touch_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}

/// One rotation of a session's refresh token ([`SessionStore::rotate_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The generation of the refresh token presented: the rotation applies only
    /// while it is still the session's.
    pub from_generation: u64,
    /// The keyed hash of the new refresh token, of generation `from_generation + 1`.
    pub refresh_hash: String,
    /// A fresh id for this rotation, written with it: a retry of the write whose
    /// answer was lost finds it and knows the rotation as its own.
    pub rotation_id: String,
    /// When: the session must not have expired by then, and is marked used then.
    pub now: Timestamp,
    /// The user's security stamp the refresh was judged under: the rotation applies
    /// only while it is still the user's and the user is not locked out at `now`, in
    /// the same write, so a refresh in flight when a sign-out everywhere or a password
    /// change lands hands out nothing.
    pub user_stamp: String,
}

/// Signed-in sessions (see [`crate::sessions`]).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session, and forgets the oldest of the user's others (never this
    /// one) beyond [`crate::sessions::MAX_PER_USER`].
    async fn put_session(&self, session: &Session) -> Result<(), StoreError>;
    /// One session.
    async fn session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Option<Session>, StoreError>;
    /// All of a user's sessions, oldest first (expired ones, and ones of another
    /// stamp, may be included; callers filter).
    async fn sessions(&self, user_id: &UserId) -> Result<Vec<Session>, StoreError>;
    /// The user and one of its sessions, in one round trip: what every request
    /// with an access token reads.
    async fn user_and_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(Option<User>, Option<Session>), StoreError>;
    /// Rotates the session's refresh token, in one conditional write that applies
    /// only while the session exists, its generation is `rotation.from_generation`
    /// and it has not expired at `rotation.now`: sets the next generation, the new
    /// hash, the rotation id and `last_used_at`. `true` if it applied (or an earlier
    /// try of the same rotation did); of rotations racing from one generation,
    /// exactly one gets `true`.
    async fn rotate_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        rotation: &Rotation,
    ) -> Result<bool, StoreError>;
    /// Sets the session's security stamp (the acting client's session survives its
    /// own stamp change); `false` if there is no such session.
    async fn restamp_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        stamp: &str,
    ) -> Result<bool, StoreError>;
    /// Ends one; `false` if there was none, or none that `now` is within its
    /// [`TTL_GRACE_SECONDS`] of (as [`DeviceStore::delete_device`]).
    async fn end_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Ends all of a user's sessions.
    async fn end_sessions(&self, user_id: &UserId) -> Result<(), StoreError>;
}

/// What adding a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyAdded {
    /// Added (or added by an earlier try of the same write).
    Done,
    /// Refused: the credential is already enrolled on an account of the side.
    Taken,
    /// Refused: the account has [`crate::passkeys::MAX_PER_USER`] passkeys.
    Full,
    /// Refused: the user's stamp is no longer the one the request was made under,
    /// or there is no such user.
    Ended,
}

/// Passkeys and WebAuthn ceremonies (see [`crate::passkeys`]). A user's passkeys
/// live in its own record (read with it, counted with its lockout, spent by
/// [`Spend::Passkey`] in the same write as a success); each credential id is also
/// claimed in its side, so that a passwordless sign-in finds its user without a scan
/// and no credential belongs to two accounts of a side.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Adds `passkey` to the user's and claims its credential id in `side`, with
    /// `patch` (a new stamp, written [`UserPatch::under_stamp`] the request's), in
    /// one write.
    async fn add_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<PasskeyAdded, StoreError>;
    /// Renames one; `false` if the user has no such passkey.
    async fn rename_passkey(
        &self,
        user_id: &UserId,
        passkey_id: &PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// Removes one and frees its credential id, with `patch` (as for
    /// [`PasskeyStore::add_passkey`]), in one write; `false` if the user no longer has
    /// it or the stamp moved.
    async fn remove_passkey(
        &self,
        user_id: &UserId,
        side: &Side,
        passkey: &Passkey,
        patch: &UserPatch,
    ) -> Result<bool, StoreError>;
    /// The user whose passkey has this credential id (base64url) in `side`.
    async fn credential_owner(
        &self,
        side: &Side,
        credential_id: &str,
    ) -> Result<Option<UserId>, StoreError>;
    /// Frees credential ids whose passkeys a user no longer has (an administrator's
    /// reset empties them with the user's other factors).
    async fn forget_credentials(
        &self,
        side: &Side,
        credential_ids: &[String],
    ) -> Result<(), StoreError>;
    /// Stores a ceremony in flight.
    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;
    /// Takes a ceremony, once: one conditional write marks it taken by `taker`.
    /// `None` when there is none, it expired by `now`, or another taker has it; a
    /// retry by the same taker (a write whose answer was lost) gets it again.
    async fn take_ceremony(
        &self,
        id: &CeremonyId,
        taker: &AttemptId,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError>;
}

/// Everything a store holds.
pub trait Store:
    UserStore
    + TenantStore
    + CodeStore
    + ThrottleStore
    + DeviceStore
    + SessionStore
    + PasskeyStore
    + EventStore
{
}

impl<
    T: UserStore
        + TenantStore
        + CodeStore
        + ThrottleStore
        + DeviceStore
        + SessionStore
        + PasskeyStore
        + EventStore,
> Store for T
{
}
