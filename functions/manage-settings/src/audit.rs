//! The audit record of an admin's change to the settings of a side or a tenant's
//! feature: one structured log line, never a secret. A later issue stores these as
//! security events; this is the one place that will write them.

use twofa::policy::SettingChange;
use twofa::tenant::Scope;
use twofa::user::User;

/// Records that `actor` changed the settings of `side` (the host, or a tenant).
/// Nothing is recorded when nothing moved.
pub fn settings_changed(actor: &User, side: &Scope, changes: &[SettingChange]) {
    record(actor, side, changes, "audit: two-factor settings changed");
}

/// Records that `actor` changed the lockout values of `side`, as [`settings_changed`] does.
pub fn lockout_changed(actor: &User, side: &Scope, changes: &[SettingChange]) {
    record(actor, side, changes, "audit: lockout settings changed");
}

fn record(actor: &User, side: &Scope, changes: &[SettingChange], what: &'static str) {
    if changes.is_empty() {
        return;
    }
    let change = changes.iter().map(|c| format!("{}: {} -> {}", c.field, c.from, c.to)).collect::<Vec<_>>().join("; ");
    let weakening = changes.iter().any(|c| c.weakens);
    tracing::info!(
        actor_id = %actor.id,
        actor_side = %actor.scope.key(),
        side = %side.key(),
        change = %change,
        weakening,
        "{what}"
    );
}
