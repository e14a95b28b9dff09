//! The one set of fixtures every test crate uses: the people, numbers and tenants
//! the tests talk about. A test that needs a value of its own (a second password, a
//! look-alike address) names it beside the test; what several tests share is here.

/// The password every fixture user registers with: long and unguessed, so the
/// password policy accepts it.
pub const PASSWORD: &str = "correct horse battery staple";
/// A password nobody has: the wrong guess.
pub const WRONG_PASSWORD: &str = "wrong horse battery staple";
/// The seeded user's email.
pub const EMAIL: &str = "jane@example.com";
/// The seeded user's phone number.
pub const PHONE: &str = "+15555550100";
/// An address no account has.
pub const UNKNOWN_EMAIL: &str = "nobody@example.com";
/// The host admin's email.
pub const HOST_ADMIN_EMAIL: &str = "root@example.com";
/// A host user's email (beside the host admin).
pub const HOST_USER_EMAIL: &str = "hana@example.com";
/// The first tenant: its display name, its id, its admin's and its user's emails.
pub const ACME: Tenant = Tenant {
    name: "Acme",
    id: "acme",
    admin_email: "admin@acme.example",
    user_email: "alice@acme.example",
};
/// The second tenant, a stranger to the first.
pub const GLOBEX: Tenant = Tenant {
    name: "Globex",
    id: "globex",
    admin_email: "admin@globex.example",
    user_email: "gus@globex.example",
};

/// A fixture tenant as `POST /tenants` creates it.
#[derive(Debug, Clone, Copy)]
pub struct Tenant {
    /// The name given to `POST /tenants`.
    pub name: &'static str,
    /// The id the service derives from the name.
    pub id: &'static str,
    /// Its first admin's email.
    pub admin_email: &'static str,
    /// A user's email.
    pub user_email: &'static str,
}
