//! What login, verify-code and manage-settings share: the policy that applies to a
//! user (read in one item), the providers a user can use, access tokens, and the
//! security notices sent by email.
//!
//! Every token names the user's security stamp (a keyed digest of it), and every
//! authenticated route compares it with the stamp of the user it reads anyway: a
//! change that rotates the stamp ([`rotate_stamp`]) ends every access and setup token
//! issued before it, at no extra store read. A request that read the user just
//! before a concurrent rotation still finishes; every later one is refused.

use serde::Serialize;

use crate::app::Core;
use crate::audit::{EventType, SecurityEvent};
use crate::lockout::LockoutPolicy;
use crate::policy::{Effective, Layers, Provider, TwoFactorSettings, effective};
use crate::secret::Secret;
use crate::senders::{EmailMessage, EmailSender};
use crate::store::{
    HARD_LIMIT, HARD_LOCK_SECONDS, Slot, StoreError, Subject, Succeeded, Success, TenantStore,
};
use crate::tenant::{Scope, Tenant};
use crate::tokens::{NewToken, TokenError, TokenKind};
use crate::user::{User, UserPatch};

/// The settings of a user's side: the host's item, or the tenant's item (feature,
/// settings and lockout values together, so the whole policy costs one read).
#[derive(Debug, Clone)]
pub enum Side {
    /// Host users follow the host's settings and lockout values (`None`: never set).
    Host(TwoFactorSettings, Option<LockoutPolicy>),
    /// Tenant users follow their tenant's feature and settings.
    Tenant(Tenant),
}

impl Side {
    /// The effective behaviour for a user with this flag.
    pub fn effective(&self, user_flag: bool) -> Effective {
        match self {
            Side::Host(s, _) => effective(Layers::Host(s), user_flag),
            Side::Tenant(t) => effective(
                Layers::Tenant {
                    feature: t.feature,
                    settings: &t.settings,
                },
                user_flag,
            ),
        }
    }

    /// The side's own settings.
    pub fn settings(&self) -> &TwoFactorSettings {
        match self {
            Side::Host(s, _) => s,
            Side::Tenant(t) => &t.settings,
        }
    }

    /// The lockout values for this side's users: the side's own, for a tenant
    /// without its own the host's, and else the function's defaults.
    pub fn lockout(&self, defaults: LockoutPolicy) -> LockoutPolicy {
        match self {
            Side::Host(_, own) => own.unwrap_or(defaults),
            Side::Tenant(t) => t.lockout_or(defaults),
        }
    }
}

/// Reads the side of `scope` in one store read; `None` for a tenant that does not exist.
pub async fn load_side(store: &dyn TenantStore, scope: &Scope) -> Result<Option<Side>, StoreError> {
    Ok(match scope {
        Scope::Host => {
            let host = store.host().await?;
            Some(Side::Host(host.settings.unwrap_or_default(), host.lockout))
        }
        Scope::Tenant(key) => store.tenant(key).await?.map(Side::Tenant),
    })
}

/// The lockout values of `user`'s side, for a route that has not read the side
/// anyway (one read; only on a failure path).
pub async fn lockout_of(core: &Core, user: &User) -> Result<LockoutPolicy, StoreError> {
    let defaults = core.config.lockout;
    Ok(load_side(core.store.as_ref(), &user.scope)
        .await?
        .map_or(defaults, |side| side.lockout(defaults)))
}

/// The providers a user can sign in with now: allowed by policy, and set up
/// (authenticator enabled, email or phone confirmed), in the contract's order.
pub fn usable_providers(user: &User, eff: &Effective) -> Vec<Provider> {
    eff.allowed_providers
        .iter()
        .copied()
        .filter(|p| match p {
            Provider::Authenticator => user.authenticator_enabled(),
            Provider::Email => user.email_confirmed,
            Provider::Sms => user.phone_number.is_some() && user.phone_number_confirmed,
        })
        .collect()
}

/// The body of a successful sign-in.
#[derive(Debug, Serialize)]
pub struct SignedIn {
    /// Always `signed_in`.
    pub status: &'static str,
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A remember-browser token, when one was asked for and allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_browser_token: Option<String>,
}

/// The keyed digest of `user`'s security stamp that tokens carry: it changes with the
/// stamp and tells nothing about it.
fn stamp_digest(core: &Core, user: &User) -> String {
    let mut digest = core
        .hash_key
        .hash(&["security_stamp", &user.id, &user.security_stamp]);
    // 128 bits (22 base64 characters) is plenty to tell stamps apart.
    digest.truncate(22);
    digest
}

/// What every token for `user` carries: who, which side, which roles, and the stamp.
pub fn token_for(core: &Core, user: &User) -> NewToken {
    NewToken {
        user_id: user.id.clone(),
        scope: user.scope.key(),
        roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        stamp: Some(stamp_digest(core, user)),
        ..Default::default()
    }
}

/// Issues an access token for `user`, who proved `amr`; `mfa_at` is when a second
/// factor was proven (for step-up), if one was.
pub fn issue_access(
    core: &Core,
    user: &User,
    amr: &[&str],
    mfa_at: Option<i64>,
) -> Result<SignedIn, TokenError> {
    let token = core.tokens.issue(
        TokenKind::Access,
        NewToken {
            amr: amr.iter().map(|s| s.to_string()).collect(),
            mfa_at,
            ..token_for(core, user)
        },
        core.now(),
    )?;
    Ok(SignedIn {
        status: "signed_in",
        access_token: token,
        token_type: "Bearer",
        expires_in: core.tokens.lifetime(TokenKind::Access),
        remember_browser_token: None,
    })
}

/// Sends a security notice to the user's confirmed address. Best effort: a notice
/// that cannot be sent is logged and the action it reports still stands.
pub async fn notify(email: &dyn EmailSender, user: &User, subject: &str, text: &str) {
    if !user.email_confirmed {
        return;
    }
    let message = EmailMessage {
        to: user.email.as_str().to_string(),
        subject: subject.to_string(),
        body: Secret::new(format!(
            "{text}\n\nIf this was not you, change your password and review your two-factor settings."
        )),
        code: None,
    };
    if let Err(e) = email.send_email(&message).await {
        tracing::warn!(error = %e, user_id = %user.id, "security notice not sent");
    }
}

/// The caller of an authenticated route: who, and with which kind of token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The kind of token presented.
    pub kind: TokenKind,
    /// Its claims.
    pub claims: crate::tokens::Claims,
    /// The user, freshly read.
    pub user: User,
}

impl Caller {
    /// Whether the caller's token is an access token whose second factor is at most
    /// `max_age` seconds old at `now`.
    pub fn has_fresh_second_factor(&self, now: i64, max_age: i64) -> bool {
        self.kind == TokenKind::Access && self.claims.mfa_at.is_some_and(|t| now - t <= max_age)
    }
}

/// Checks the bearer token (one of `kinds`) and reads its user: 401 `unauthorized`
/// for a missing, expired, forged or wrong-kind token, or a user that no longer exists.
pub async fn authenticate(
    core: &Core,
    req: &crate::api::Request,
    kinds: &[TokenKind],
) -> Result<Caller, crate::api::ApiError> {
    use crate::api::{ApiError, bearer_token};
    let token = bearer_token(req).ok_or_else(ApiError::unauthorized)?;
    let now = core.now();
    let (kind, claims) = kinds
        .iter()
        .find_map(|k| core.tokens.verify(*k, token, now).ok().map(|c| (*k, c)))
        .ok_or_else(ApiError::unauthorized)?;
    let user = core
        .store
        .user(&claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if user.scope.key() != claims.scope {
        return Err(ApiError::unauthorized());
    }
    // A token from before the last stamp change (or from before tokens named one) is over.
    let current = stamp_digest(core, &user);
    if !claims
        .stamp
        .as_deref()
        .is_some_and(|s| crate::crypto::constant_time_eq(s, &current))
    {
        return Err(ApiError::unauthorized());
    }
    Ok(Caller { kind, claims, user })
}

/// A new access token for the client whose change just rotated its own stamp, in the
/// body of that change's answer (`access_token`, `expires_in`): the same sign-in,
/// second factor and expiry as the token it replaces, under the new stamp.
#[derive(Debug, Serialize)]
pub struct FreshAccess {
    /// The new access token.
    pub access_token: String,
    /// Seconds until it expires (no later than the one it replaces).
    pub expires_in: i64,
}

/// Writes `patch` to `user` with a new security stamp: every remembered browser of
/// the user, and every access and setup token issued for it before, stop working.
/// Returns the user as changed and, when the caller changed its own account with an
/// access token, a [`FreshAccess`] to go on with. A setup token's holder signs in again;
/// an answer without a body (204) ends the caller's session too.
pub async fn rotate_stamp(
    core: &Core,
    caller: &Caller,
    user: &User,
    patch: UserPatch,
) -> Result<(User, Option<FreshAccess>), crate::api::ApiError> {
    let patch = patch.rotating_stamp();
    core.store.update_user(&user.id, &patch).await?;
    let mut changed = user.clone();
    patch.apply(&mut changed);
    let fresh = fresh_access(core, caller, &changed)?;
    Ok((changed, fresh))
}

/// The [`FreshAccess`] for a caller whose own account is now `changed` (written with
/// [`UserPatch::rotating_stamp`], by [`rotate_stamp`] or in a route's own single
/// write); `None` for a setup token or someone else's account.
pub fn fresh_access(
    core: &Core,
    caller: &Caller,
    changed: &User,
) -> Result<Option<FreshAccess>, TokenError> {
    if caller.kind != TokenKind::Access || caller.user.id != changed.id {
        return Ok(None);
    }
    let now = core.now();
    let c = &caller.claims;
    let token = core.tokens.issue(
        TokenKind::Access,
        NewToken {
            amr: c.amr.clone(),
            mfa_at: c.mfa_at,
            not_after: Some(c.exp),
            ..token_for(core, changed)
        },
        now,
    )?;
    let expires_in = c.exp.min(now + core.tokens.lifetime(TokenKind::Access)) - now;
    Ok(Some(FreshAccess {
        access_token: token,
        expires_in,
    }))
}

/// The `Set-Cookie` value for a remember-browser token: HttpOnly, Secure, SameSite=Strict.
pub fn remember_cookie(cookie_name: &str, token: &str, max_age_seconds: i64) -> String {
    format!(
        "{cookie_name}={token}; Max-Age={max_age_seconds}; Path=/; HttpOnly; Secure; SameSite=Strict"
    )
}

/// What a failed password or code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; this many attempts remain.
    Counted {
        /// Attempts left before the lock.
        attempts_remaining: u32,
    },
    /// The account is locked (by this failure or before it) for this many seconds.
    Locked {
        /// Seconds until the lock ends.
        retry_after: i64,
    },
}

impl Failure {
    /// The answer for a locked account; `None` when the failure was only counted.
    pub fn locked_error(self) -> Option<crate::api::ApiError> {
        match self {
            Failure::Locked { retry_after } => Some(crate::api::ApiError::locked_out(retry_after)),
            Failure::Counted { .. } => None,
        }
    }
}

/// One password or code attempt, counted before it is judged (see the store's module doc).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Its id, written with its slot and its success so a retried write knows its own.
    pub id: String,
    /// The user as the slot's write left it (`None` for an unknown email).
    pub user: Option<User>,
    count: u32,
    streak: u32,
    policy: LockoutPolicy,
}

/// The key an email without an account counts its failures under
/// ([`Subject::Unknown`]): the keyed hash of its scope and lower-case address, so
/// login and password reset add up for it as they do for an account.
pub fn unknown_email_key(core: &Core, scope: &Scope, email_key: &str) -> String {
    core.hash_key
        .hash(&["unknown-email", &scope.key(), email_key])
}

/// A new attempt id.
pub fn attempt_id() -> Result<String, crate::crypto::CryptoError> {
    crate::crypto::random_token(16)
}

/// Takes the attempt's slot: 423 while locked, or when every slot is held by
/// attempts not yet judged (which locks the account: an abandoned slot must not
/// refuse forever); 401 `unauthorized` when `sid` is no longer the pending sign-in.
/// `policy` is the lockout of the subject's side ([`Side::lockout`]).
pub async fn begin_attempt(
    core: &Core,
    subject: Subject<'_>,
    id: String,
    sid: Option<&str>,
    policy: LockoutPolicy,
) -> Result<Attempt, crate::api::ApiError> {
    use crate::api::ApiError;
    let now = core.now();
    match core
        .store
        .take_slot(subject, &id, sid, policy.max_failed_attempts, now)
        .await?
    {
        Slot::Taken {
            user,
            count,
            streak,
        } => Ok(Attempt {
            id,
            user: user.map(|u| *u),
            count,
            streak,
            policy,
        }),
        Slot::Locked(until) => Err(ApiError::locked_out(until - now)),
        Slot::Full => {
            let until = now + policy.duration_seconds;
            core.store.lock(subject, now, until, false).await?;
            tracing::warn!("account locked: every attempt slot was taken at once");
            Err(ApiError::locked_out(until - now))
        }
        Slot::Exhausted => {
            let until = now + HARD_LOCK_SECONDS;
            core.store.lock(subject, now, until, true).await?;
            tracing::warn!(
                "account locked long: the lock after the last consecutive failure was never written"
            );
            Err(ApiError::locked_out(until - now))
        }
        Slot::Ended => Err(ApiError::unauthorized()),
    }
}

/// The attempt was wrong: it stays counted; the one that used the last slot locks
/// the account (ending any sign-in in progress, so its two-factor token dies) and
/// sends the lockout notice. After [`HARD_LIMIT`] consecutive failures the lock is long.
pub async fn wrong_answer(
    core: &Core,
    email: &dyn EmailSender,
    subject: Subject<'_>,
    attempt: &Attempt,
) -> Result<Failure, StoreError> {
    use crate::lockout::AfterFailure;
    let now = core.now();
    let hard = attempt.streak >= HARD_LIMIT;
    let until = match attempt.policy.after_failure(attempt.count, now) {
        _ if hard => now + HARD_LOCK_SECONDS,
        AfterFailure::LockNow { until } => until,
        AfterFailure::Counted { attempts_remaining } => {
            return Ok(Failure::Counted { attempts_remaining });
        }
    };
    core.store.lock(subject, now, until, hard).await?;
    // The notice is awaited, which would make the attempt that locks a real account
    // answer later than the one that locks an unknown email; login answers every 423
    // after the same floor (`LOCKED_ANSWER_MS`) to hide it. Sending it after the
    // answer is unreliable in Lambda (the environment freezes once it answered).
    if let Some(user) = &attempt.user {
        tracing::warn!(user_id = %user.id, "account locked after repeated failures");
        notify(
            email,
            user,
            "Your account was locked",
            "Your account was locked for a while after several failed sign-in attempts.",
        )
        .await;
    }
    Ok(Failure::Locked {
        retry_after: until - now,
    })
}

/// Records a wrong answer's `sign_in_failed` event, and with it, in the same write,
/// the `locked_out` event when this answer locked the account.
pub async fn record_wrong_answer(core: &Core, failed: SecurityEvent, failure: Failure) {
    match failure {
        Failure::Counted { .. } => core.record(failed).await,
        Failure::Locked { retry_after } => {
            let locked = failed
                .then(EventType::LockedOut)
                .detail("locked_until", core.now() + retry_after);
            core.record_all(vec![failed, locked]).await
        }
    }
}

/// What writing a right answer led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted.
    Accepted,
    /// The factor was spent already (used, replayed, replaced): a wrong answer.
    Spent,
}

/// Writes a right answer in one conditional write (see [`Success`]): 423 if the
/// account locked while it was judged, 401 `unauthorized` if its sign-in ended.
pub async fn right_answer(
    core: &Core,
    user_id: &str,
    success: &Success<'_>,
) -> Result<Outcome, crate::api::ApiError> {
    use crate::api::ApiError;
    let now = core.now();
    match core.store.succeed(user_id, success, now).await? {
        Succeeded::Done => Ok(Outcome::Accepted),
        Succeeded::Spent => Ok(Outcome::Spent),
        Succeeded::Locked(until) => Err(ApiError::locked_out(until - now)),
        Succeeded::Ended => Err(ApiError::unauthorized()),
        Succeeded::Changed => Err(ApiError::conflict(
            "the account changed while this answer was checked; start again",
        )),
    }
}

/// The scope a public route's `tenant` field names: the host when absent or null;
/// a name that cannot exist is an unknown tenant. Whether it exists is the caller's read.
pub fn scope_of(tenant: Option<&str>) -> Result<Scope, crate::api::ApiError> {
    match tenant {
        None => Ok(Scope::Host),
        Some(name) => crate::tenant::TenantName::parse(name)
            .map(|n| Scope::Tenant(n.key()))
            .map_err(|_| crate::api::ApiError::unknown_tenant()),
    }
}

/// Whether the user can prove a second factor now: the policy asks for one and a
/// provider or a recovery code is left. Only adding a first factor looks at this (a
/// user who cannot prove one may add one); every weakening asks for step-up whenever
/// the policy has two-factor sign-in on, provider or not, or a stale session could
/// first disallow its own providers and then weaken freely. Such a user signs in
/// again, and login asks for a recovery code or sets up a first provider.
pub fn can_prove_second_factor(user: &User, eff: &Effective) -> bool {
    eff.enabled && (!usable_providers(user, eff).is_empty() || !user.recovery_codes.is_empty())
}

/// 403 `step_up_required` unless 2FA is off for the user (`two_factor_on` false:
/// the policy's effective `enabled`, or [`can_prove_second_factor`] when adding a
/// first factor) or
/// the caller proved a second factor within `STEP_UP_MAX_AGE_SECONDS`.
pub fn require_step_up(
    core: &Core,
    caller: &Caller,
    two_factor_on: bool,
) -> Result<(), crate::api::ApiError> {
    let max_age = core.config.step_up_max_age_seconds;
    if !two_factor_on || caller.has_fresh_second_factor(core.now(), max_age) {
        return Ok(());
    }
    Err(crate::api::ApiError::of(crate::api::ErrorCode::StepUpRequired).saying(
        format!(
            "this change needs a second factor proven in the last {max_age} seconds; sign in again with your second factor"
        ),
    ))
}

/// Step-up for confirming a phone number: only a number other than the confirmed
/// one changes where codes go. Setup tokens pass: their holder is adding a first provider.
pub async fn require_step_up_for_phone(
    core: &Core,
    caller: &Caller,
    number: &str,
) -> Result<(), crate::api::ApiError> {
    let user = &caller.user;
    let same = user.phone_number_confirmed
        && user
            .phone_number
            .as_ref()
            .is_some_and(|p| p.as_str() == number);
    if same || caller.kind != TokenKind::Access {
        return Ok(());
    }
    let side = load_side(core.store.as_ref(), &user.scope)
        .await?
        .ok_or_else(crate::api::ApiError::unauthorized)?;
    require_step_up(
        core,
        caller,
        can_prove_second_factor(user, &side.effective(user.two_factor_enabled)),
    )
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// The user, freshly read.
    pub user: User,
    /// The sign-in id the two-factor token carries.
    pub sid: String,
}

/// The sign-in a two-factor token carries on: 401 for a bad token or a sign-in that
/// ended (finished, replaced by a newer login, or ended by a lock), 423 while the
/// account is locked. Every copy of the token dies with the sign-in.
pub async fn pending_sign_in(
    core: &Core,
    token: &str,
) -> Result<PendingSignIn, crate::api::ApiError> {
    use crate::api::ApiError;
    let now = core.now();
    let claims = core
        .tokens
        .verify(TokenKind::TwoFactor, token, now)
        .map_err(|_| ApiError::unauthorized())?;
    let user = core
        .store
        .user(&claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if user.scope.key() != claims.scope {
        return Err(ApiError::unauthorized());
    }
    if let Some(seconds) = crate::lockout::locked_for(user.lockout_end, now) {
        return Err(ApiError::locked_out(seconds));
    }
    match claims.sid {
        Some(sid) if user.pending_sign_in.as_deref() == Some(sid.as_str()) => {
            Ok(PendingSignIn { user, sid })
        }
        _ => Err(ApiError::unauthorized()),
    }
}
