//! The side a user belongs to, as one store item: the host's, or a tenant's. Its
//! feature, settings and lockout values travel together, so the whole policy of a
//! request costs one read.

use super::{Effective, Layers, TwoFactorSettings, effective};
use crate::lockout::LockoutPolicy;
use crate::store::{StoreError, TenantStore};
use crate::tenant::{Scope, Tenant};

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

    /// The same side with `settings` in place of its own (what a change would make of it).
    pub fn with_settings(&self, settings: TwoFactorSettings) -> Side {
        match self {
            Side::Host(_, lockout) => Side::Host(settings, *lockout),
            Side::Tenant(t) => Side::Tenant(Tenant {
                settings,
                ..t.clone()
            }),
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
