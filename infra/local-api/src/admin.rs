//! The first host admin: created by the local API at start and, for a deployed
//! stack, by `twofa-admin create-host-admin`. Idempotent; no default password.

use twofa::app::Core;
use twofa::email::Email;
use twofa::ids::UserId;
use twofa::password::{Password, hash_password};
use twofa::side::Side;
use twofa::store::{StoreError, user_under};
use twofa::user::{Role, User};

/// What seeding did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    /// A new host admin with this id.
    Created(UserId),
    /// A host user with this email already existed; nothing changed.
    Existed(UserId),
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The email does not parse.
    #[error("invalid admin email: {0}")]
    Email(#[from] twofa::email::InvalidEmail),
    /// The password is too weak.
    #[error("admin password refused: {0}")]
    Password(#[from] twofa::password::WeakPassword),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] twofa::password::HashError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a host admin with this email and password unless a host user with
/// that email exists already (then nothing changes: a restart never resets a password).
/// The password must meet the rules users' passwords meet.
pub async fn seed_host_admin(
    core: &Core,
    email: &str,
    password: &str,
) -> Result<Seeded, SeedError> {
    let checked = Password::new(password, core.config.password_min_length, &[email])?;
    seed(core, email, &checked).await
}

/// The local API's admin from `LOCAL_ADMIN_EMAIL` / `LOCAL_ADMIN_PASSWORD`: a
/// password that misses the rules is accepted with a warning, because a
/// development setup must not fail to start over a test password.
pub async fn seed_local_admin(
    core: &Core,
    email: &str,
    password: &str,
) -> Result<Seeded, SeedError> {
    let checked = match Password::new(password, core.config.password_min_length, &[email]) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(reason = %e, "LOCAL_ADMIN_PASSWORD misses the password rules; accepted for this local admin only");
            Password::operator_chosen(password)?
        }
    };
    seed(core, email, &checked).await
}

async fn seed(core: &Core, email: &str, password: &Password) -> Result<Seeded, SeedError> {
    let keys = Email::lookup_keys(email);
    let email = Email::parse(email)?;
    if let Some(existing) = user_under(core.store.as_ref(), &Side::Host, &keys).await? {
        return Ok(Seeded::Existed(existing.id));
    }
    let user = User {
        // The operator typed this address; notices may go to it.
        email_confirmed: true,
        roles: vec![Role::HostAdmin],
        ..User::new(
            Side::Host,
            email,
            hash_password(password).await?,
            core.now(),
        )
    };
    match core.store.create_user(&user).await {
        Ok(()) => Ok(Seeded::Created(user.id)),
        // Two starts racing: the other one created it.
        Err(StoreError::Conflict(_)) => Ok(Seeded::Existed(UserId::default())),
        Err(e) => Err(e.into()),
    }
}

/// A random password that meets the rules: 24 characters of base64url (144 bits).
pub fn random_password() -> String {
    twofa::crypto::random_token(18).unwrap_or_else(|_| uuid::Uuid::new_v4().simple().to_string())
}
