//! Users as stored: identity, credentials, second factors and the counters that guard them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::email::Email;
use crate::ids::{SignInId, UserId};
use crate::passkeys::Passkey;
use crate::phone::PhoneNumber;
use crate::side::Side;

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Administers the host: its users, its settings, tenants and their features.
    HostAdmin,
    /// Administers one tenant: its users and settings.
    TenantAdmin,
}

impl Role {
    /// The role's name in tokens and the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::HostAdmin => "host_admin",
            Role::TenantAdmin => "tenant_admin",
        }
    }
    /// The role named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "host_admin" => Some(Role::HostAdmin),
            "tenant_admin" => Some(Role::TenantAdmin),
            _ => None,
        }
    }
}

/// A new security stamp: every remembered browser bound to the old one, and every
/// access or setup token issued under it, stops working.
pub fn new_security_stamp() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An authenticator app's key, sealed with AES-256-GCM; enabled once a code from it was verified.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticator {
    /// The TOTP key, sealed (see [`crate::crypto::SealKey`]).
    pub sealed_key: String,
    /// Whether enrolment finished with a verified code.
    pub enabled: bool,
}

/// A user record. Printed, it shows no hash, key, code, stamp or sign-in nonce.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Random, globally unique id.
    pub id: UserId,
    /// The host or the tenant the user belongs to.
    pub side: Side,
    /// The address as registered.
    pub email: Email,
    /// Whether the address was confirmed with a code.
    pub email_confirmed: bool,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The confirmed or registered number, if any.
    pub phone_number: Option<PhoneNumber>,
    /// Whether the number was confirmed with a code.
    pub phone_number_confirmed: bool,
    /// Roles held.
    pub roles: Vec<Role>,
    /// The user's own two-factor flag (used when the behaviour is optional).
    pub two_factor_enabled: bool,
    /// The authenticator app, if enrolled or being enrolled.
    pub authenticator: Option<Authenticator>,
    /// The last TOTP time step accepted: a step is never accepted twice.
    pub totp_last_step: Option<i64>,
    /// Keyed hashes of the unused recovery codes.
    pub recovery_codes: Vec<String>,
    /// Failures since the last success or lock.
    pub failed_count: u32,
    /// When the current lock ends.
    pub lockout_end: Option<Timestamp>,
    /// Changes with every security-relevant change; remembered browsers die with it.
    pub security_stamp: String,
    /// The sign-in in progress: a two-factor token is valid only while it carries this value.
    pub pending_sign_in: Option<SignInId>,
    /// When the user registered.
    pub created_at: Timestamp,
    /// Set when a settings change left the account, which could prove a second factor,
    /// with two-factor sign-in on and none it can prove
    /// ([`crate::policy::strands`]): the password alone then never starts
    /// enrolment, since that would hand a factor to whoever holds only the password.
    /// Cleared only by an administrator's reset of the second factor (a factor it had
    /// allowed again signs it in with that factor, mark or not: the mark refuses only
    /// an account with no provider and no recovery code left).
    #[serde(default)]
    pub second_factor_lost: bool,
    /// The passkeys enrolled, at most [`crate::passkeys::MAX_PER_USER`], oldest first.
    #[serde(default)]
    pub passkeys: Vec<Passkey>,
}

/// What a log may show in place of a secret: that it is there, not what it is.
const REDACTED: &str = "[redacted]";

fn redacted<T>(value: &Option<T>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("sealed_key", &REDACTED)
            .field("enabled", &self.enabled)
            .finish()
    }
}

// Every field named, so that a new one cannot reach a log unseen.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let User {
            id,
            side,
            email,
            email_confirmed,
            password_hash: _,
            phone_number,
            phone_number_confirmed,
            roles,
            two_factor_enabled,
            authenticator,
            totp_last_step,
            recovery_codes,
            failed_count,
            lockout_end,
            security_stamp: _,
            pending_sign_in,
            created_at,
            second_factor_lost,
            passkeys,
        } = self;
        f.debug_struct("User")
            .field("id", id)
            .field("side", side)
            // As printed before the address was parsed: logs keep their spelling.
            .field("email", &email.as_str())
            .field("email_confirmed", email_confirmed)
            .field("password_hash", &REDACTED)
            .field(
                "phone_number",
                &phone_number.as_ref().map(PhoneNumber::as_str),
            )
            .field("phone_number_confirmed", phone_number_confirmed)
            .field("roles", roles)
            .field("two_factor_enabled", two_factor_enabled)
            .field("authenticator", authenticator)
            .field("totp_last_step", totp_last_step)
            .field("recovery_codes", &recovery_codes.len())
            .field("failed_count", failed_count)
            .field("lockout_end", lockout_end)
            .field("security_stamp", &REDACTED)
            .field("pending_sign_in", &redacted(pending_sign_in))
            .field("created_at", created_at)
            .field("second_factor_lost", second_factor_lost)
            .field("passkeys", &passkeys.len())
            .finish()
    }
}

impl User {
    /// A new user with a random id and security stamp, nothing confirmed, no second
    /// factor, the own two-factor flag off, no roles.
    pub fn new(side: Side, email: Email, password_hash: String, now: Timestamp) -> Self {
        Self {
            id: UserId::random(),
            side,
            email,
            email_confirmed: false,
            password_hash,
            phone_number: None,
            phone_number_confirmed: false,
            roles: Vec::new(),
            two_factor_enabled: false,
            authenticator: None,
            totp_last_step: None,
            recovery_codes: Vec::new(),
            failed_count: 0,
            lockout_end: None,
            security_stamp: new_security_stamp(),
            pending_sign_in: None,
            created_at: now,
            second_factor_lost: false,
            passkeys: Vec::new(),
        }
    }

    /// Whether the user holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    /// Whether an authenticator app is enrolled and verified.
    pub fn authenticator_enabled(&self) -> bool {
        self.authenticator.as_ref().is_some_and(|a| a.enabled)
    }

    /// The passkey with this credential id (base64url), if it is one of the user's.
    pub fn passkey_with_credential(&self, credential_id: &str) -> Option<&Passkey> {
        self.passkeys
            .iter()
            .find(|p| p.credential_id == credential_id)
    }
}

/// A change to some fields of a user; fields left `None` are not touched, so a
/// settings change never overwrites a counter moved concurrently. Printed, it shows
/// which secrets it changes, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New email-confirmed flag.
    pub email_confirmed: Option<bool>,
    /// New phone number (`Some(None)` removes it).
    pub phone_number: Option<Option<PhoneNumber>>,
    /// New phone-confirmed flag.
    pub phone_number_confirmed: Option<bool>,
    /// New own two-factor flag.
    pub two_factor_enabled: Option<bool>,
    /// New authenticator (`Some(None)` removes it).
    pub authenticator: Option<Option<Authenticator>>,
    /// New recovery code hashes (replacing all).
    pub recovery_codes: Option<Vec<String>>,
    /// New security stamp.
    pub security_stamp: Option<String>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// New pending sign-in (`Some(None)` clears it).
    pub pending_sign_in: Option<Option<SignInId>>,
    /// Reset the failure count to zero.
    pub reset_failures: bool,
    /// New lost-second-factor mark (see [`User::second_factor_lost`]).
    pub second_factor_lost: Option<bool>,
    /// New passkeys (replacing all; an administrator's reset empties them).
    pub passkeys: Option<Vec<Passkey>>,
    /// Not a change but a condition: written only while the user's security stamp is
    /// still this one, the stamp the request was authenticated under (see
    /// [`UserPatch::under_stamp`]); otherwise the write changes nothing.
    pub expected_stamp: Option<String>,
    /// Not a change but a condition either: written only while the administrator
    /// making it is still signed in under the stamp its request was authenticated
    /// under (see [`UserPatch::by`]).
    pub admin_stamp: Option<AdminStamp>,
}

/// An administrator changing someone else's account, and the security stamp its
/// request was authenticated under: the change is written only while that stamp is
/// still the administrator's, so a stolen admin session's request in flight cannot
/// land after the administrator signed out everywhere or changed the password.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminStamp {
    /// The administrator.
    pub admin: UserId,
    /// The stamp its request was authenticated under.
    pub stamp: String,
}

impl AdminStamp {
    /// The stamp `admin` (as its request read it) is held to.
    pub fn of(admin: &User) -> Self {
        Self {
            admin: admin.id.clone(),
            stamp: admin.security_stamp.clone(),
        }
    }
}

impl fmt::Debug for AdminStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminStamp")
            .field("admin", &self.admin)
            .field("stamp", &"[redacted]")
            .finish()
    }
}

impl fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let UserPatch {
            email_confirmed,
            phone_number,
            phone_number_confirmed,
            two_factor_enabled,
            authenticator,
            recovery_codes,
            security_stamp,
            password_hash,
            pending_sign_in,
            reset_failures,
            second_factor_lost,
            passkeys,
            expected_stamp,
            admin_stamp,
        } = self;
        f.debug_struct("UserPatch")
            .field("email_confirmed", email_confirmed)
            .field(
                "phone_number",
                &phone_number
                    .as_ref()
                    .map(|p| p.as_ref().map(PhoneNumber::as_str)),
            )
            .field("phone_number_confirmed", phone_number_confirmed)
            .field("two_factor_enabled", two_factor_enabled)
            .field("authenticator", authenticator)
            .field("recovery_codes", &recovery_codes.as_ref().map(Vec::len))
            .field("security_stamp", &redacted(security_stamp))
            .field("password_hash", &redacted(password_hash))
            .field("pending_sign_in", &pending_sign_in.as_ref().map(redacted))
            .field("reset_failures", reset_failures)
            .field("second_factor_lost", second_factor_lost)
            .field("passkeys", &passkeys.as_ref().map(Vec::len))
            .field("expected_stamp", &redacted(expected_stamp))
            .field("admin_stamp", admin_stamp)
            .finish()
    }
}

impl UserPatch {
    /// Applies the patch to a user in memory.
    pub fn apply(&self, u: &mut User) {
        if let Some(v) = self.email_confirmed {
            u.email_confirmed = v;
        }
        if let Some(v) = &self.phone_number {
            u.phone_number = v.clone();
        }
        if let Some(v) = self.phone_number_confirmed {
            u.phone_number_confirmed = v;
        }
        if let Some(v) = self.two_factor_enabled {
            u.two_factor_enabled = v;
        }
        if let Some(v) = &self.authenticator {
            u.authenticator = v.clone();
        }
        if let Some(v) = &self.recovery_codes {
            u.recovery_codes = v.clone();
        }
        if let Some(v) = &self.security_stamp {
            u.security_stamp = v.clone();
        }
        if let Some(v) = &self.password_hash {
            u.password_hash = v.clone();
        }
        if let Some(v) = &self.pending_sign_in {
            u.pending_sign_in = v.clone();
        }
        if self.reset_failures {
            u.failed_count = 0;
        }
        if let Some(v) = self.second_factor_lost {
            u.second_factor_lost = v;
        }
        if let Some(v) = &self.passkeys {
            u.passkeys = v.clone();
        }
    }
    /// For a user who lost the phone: no authenticator, no recovery codes. Email and
    /// phone stay. Written `.rotating_stamp()`, so that sessions and remembered browsers end.
    /// It is also the administrator's word that the user may set up a first factor
    /// again with the password: the lost-second-factor mark goes.
    pub fn second_factor_reset() -> Self {
        Self {
            authenticator: Some(None),
            recovery_codes: Some(Vec::new()),
            second_factor_lost: Some(false),
            passkeys: Some(Vec::new()),
            ..Default::default()
        }
    }

    /// The same change with a new security stamp: the one way a change ends the
    /// user's remembered browsers and every access and setup token issued before it.
    /// Handlers write it through `crate::app::flows::rotate_stamp`, which also hands the
    /// acting client a fresh token.
    pub fn rotating_stamp(self) -> Self {
        Self {
            security_stamp: Some(new_security_stamp()),
            ..self
        }
    }
    /// The same change, written only while the user's security stamp is still `stamp`
    /// (the one the acting request read and was authenticated under). A request in
    /// flight when the stamp changed (a sign-out everywhere, a password change) then
    /// changes nothing and hands out no token under a stamp of its own making: the
    /// store refuses it (`StoreError::Conflict("security_stamp")` from `update_user`,
    /// `false` from `update_user_if_authenticator`, `Succeeded::Ended` from `succeed`).
    pub fn under_stamp(self, stamp: &str) -> Self {
        Self {
            expected_stamp: Some(stamp.to_string()),
            ..self
        }
    }
    /// The same change, made by `caller` (as its request read it): held to the
    /// caller's stamp, in the same write. On the caller's own account that is the
    /// account's stamp ([`UserPatch::under_stamp`]); on someone else's, the
    /// administrator's ([`AdminStamp`]).
    pub fn by(self, caller: &User, target: &UserId) -> Self {
        if caller.id == *target {
            self.under_stamp(&caller.security_stamp)
        } else {
            Self {
                admin_stamp: Some(AdminStamp::of(caller)),
                ..self
            }
        }
    }
    /// Whether `user`'s stamp lets this patch be written (see [`UserPatch::under_stamp`]).
    pub fn stamp_holds(&self, user: &User) -> bool {
        self.expected_stamp
            .as_ref()
            .is_none_or(|s| *s == user.security_stamp)
    }
    /// Whether `user` already carries the new stamp this patch writes: the stamp is a
    /// fresh random value, so only this very write (a retry of it whose first try
    /// went through) can have put it there.
    pub fn written_over(&self, user: &User) -> bool {
        self.security_stamp.as_ref() == Some(&user.security_stamp)
    }
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        // The expected stamps are conditions, not changes.
        UserPatch {
            expected_stamp: None,
            admin_stamp: None,
            ..self.clone()
        } == UserPatch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRETS: [&str; 5] = [
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        "sealed-totp-key",
        "recovery-code-hash",
        "stamp-of-the-user",
        "pending-sign-in-nonce",
    ];

    fn user_with_every_secret() -> User {
        let mut u = User::new(
            Side::Host,
            Email::parse("ada@example.com").unwrap(),
            SECRETS[0].into(),
            0,
        );
        u.authenticator = Some(Authenticator {
            sealed_key: SECRETS[1].into(),
            enabled: true,
        });
        u.recovery_codes = vec![SECRETS[2].into()];
        u.security_stamp = SECRETS[3].into();
        u.pending_sign_in = Some(SECRETS[4].into());
        u
    }

    #[test]
    fn a_printed_user_shows_no_hash_key_code_stamp_or_sign_in() {
        let printed = format!("{:?}", user_with_every_secret());
        for secret in SECRETS {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("ada@example.com"), "{printed}");
    }

    #[test]
    fn a_printed_patch_shows_no_hash_key_code_stamp_or_sign_in() {
        let u = user_with_every_secret();
        let patch = UserPatch {
            password_hash: Some(u.password_hash.clone()),
            authenticator: Some(u.authenticator.clone()),
            recovery_codes: Some(u.recovery_codes.clone()),
            security_stamp: Some(u.security_stamp.clone()),
            pending_sign_in: Some(u.pending_sign_in.clone()),
            ..Default::default()
        };
        let printed = format!("{patch:?}");
        for secret in SECRETS {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }
}
