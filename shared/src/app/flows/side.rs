//! Reading the policy of a side (the host's or a tenant's) from the store: its
//! feature, settings and lockout values travel together in one item
//! ([`SidePolicy`]), so the whole policy of a request costs one read.

use crate::side::Side;
use crate::store::{StoreError, TenantStore};
use crate::tenant::SidePolicy;

/// Reads the policy of the side `scope` in one store read; `None` for a tenant that does not exist.
pub async fn load_side(
    store: &dyn TenantStore,
    scope: &Side,
) -> Result<Option<SidePolicy>, StoreError> {
    Ok(match scope {
        Side::Host => {
            let host = store.host().await?;
            Some(SidePolicy::Host(
                host.settings.unwrap_or_default(),
                host.lockout,
            ))
        }
        Side::Tenant(key) => store.tenant(key).await?.map(SidePolicy::Tenant),
    })
}
