//! Users as stored: identity, credentials, second factors and the counters that guard them.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::tenant::Scope;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticator {
    /// The TOTP key, sealed (see [`crate::crypto::SealKey`]).
    pub sealed_key: String,
    /// Whether enrolment finished with a verified code.
    pub enabled: bool,
}

/// A user record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Random, globally unique id.
    pub id: String,
    /// The host or the tenant the user belongs to.
    pub scope: Scope,
    /// The address as registered.
    pub email: String,
    /// Whether the address was confirmed with a code.
    pub email_confirmed: bool,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// E.164 number, if any.
    pub phone_number: Option<String>,
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
    pub pending_sign_in: Option<String>,
    /// When the user registered.
    pub created_at: Timestamp,
}

impl User {
    /// A new user with a random id and security stamp, nothing confirmed, no second
    /// factor, the own two-factor flag off, no roles.
    pub fn new(scope: Scope, email: &str, password_hash: String, now: Timestamp) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            scope,
            email: email.to_string(),
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
}

/// A change to some fields of a user; fields left `None` are not touched, so a
/// settings change never overwrites a counter moved concurrently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New email-confirmed flag.
    pub email_confirmed: Option<bool>,
    /// New phone number (`Some(None)` removes it).
    pub phone_number: Option<Option<String>>,
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
    pub pending_sign_in: Option<Option<String>>,
    /// Reset the failure count to zero.
    pub reset_failures: bool,
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
    }
    /// For a user who lost the phone: no authenticator, no recovery codes. Email and
    /// phone stay. Written `.rotating_stamp()`, so that sessions and remembered browsers end.
    pub fn second_factor_reset() -> Self {
        Self {
            authenticator: Some(None),
            recovery_codes: Some(Vec::new()),
            ..Default::default()
        }
    }

    /// The same change with a new security stamp: the one way a change ends the
    /// user's remembered browsers and every access and setup token issued before it.
    /// Handlers write it through `crate::signin::rotate_stamp`, which also hands the
    /// acting client a fresh token.
    pub fn rotating_stamp(self) -> Self {
        Self {
            security_stamp: Some(new_security_stamp()),
            ..self
        }
    }
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == UserPatch::default()
    }
}
