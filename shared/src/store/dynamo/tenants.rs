//! Tenants, the tenant listing and the host's item.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::DynamoStore;
use super::item::Update;
use super::item::{self, Item, Reader, corrupt, key, keys, n, s, single_key};
use super::request::{UpdateCall, Updated, built, unavailable};
use super::settings::{
    SettingsChange, behaviour_value, lockout_value, opt_lockout, parse_behaviour, settings_from,
    settings_or_default, settings_value,
};
use super::users::{email_item, user_item};
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::side::Side;
use crate::store::{StoreError, TenantStore};
use crate::tenant::{Host, Tenant};
use crate::user::{AdminStamp, User};

/// The tenant item: name, feature and settings, so a tenant user's policy is one read.
pub fn tenant_item(t: &Tenant) -> Item {
    let mut i = single_key(keys::tenant_pk(&t.name.to_ascii_lowercase()));
    i.insert("name".to_string(), s(&t.name));
    i.insert("feature".to_string(), behaviour_value(t.feature));
    i.insert("settings".to_string(), settings_value(&t.settings));
    i.insert("created_at".to_string(), n(t.created_at));
    if let Some(l) = &t.lockout {
        i.insert("lockout".to_string(), lockout_value(l));
    }
    if let Some(l) = &t.host_lockout {
        i.insert("host_lockout".to_string(), lockout_value(l));
    }
    i
}

/// The item that lists a tenant in the [`keys::TENANTS_PK`] partition.
pub fn tenant_listing_item(tenant_key: &str) -> Item {
    key(keys::TENANTS_PK, tenant_key)
}

/// A tenant from its item.
pub fn tenant_from(i: &Item) -> Result<Tenant, StoreError> {
    let r = Reader(i);
    let settings = r
        .opt_map("settings")?
        .ok_or_else(|| corrupt("settings", "missing"))?;
    Ok(Tenant {
        name: r.s("name")?,
        feature: parse_behaviour(&r.s("feature")?)?,
        settings: settings_from(settings)?,
        created_at: r.n("created_at")?,
        lockout: opt_lockout(i, "lockout")?,
        host_lockout: opt_lockout(i, "host_lockout")?,
    })
}

/// The host's item: settings and own lockout values, each absent until first saved.
pub fn host_from(i: &Item) -> Result<Host, StoreError> {
    Ok(Host {
        settings: Reader(i)
            .opt_map("settings")?
            .map(settings_from)
            .transpose()?,
        lockout: opt_lockout(i, "lockout")?,
    })
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError> {
        let new = "attribute_not_exists(#pk)";
        let names = [("#pk", item::PK)];
        let key = tenant.name.to_ascii_lowercase();
        // The tenant starts with the host's lockout values as they are, and the
        // transaction checks they still are: a host change that lands first makes
        // this attempt fail and read again; one that lands after finds the tenant
        // in the listing it copies into.
        for _ in 0..5 {
            let (host_lockout, version) = self.host_lockout_copy().await?;
            let mut tenant_item = tenant_item(&Tenant {
                host_lockout,
                ..tenant.clone()
            });
            tenant_item.insert("host_lockout_version".to_string(), n(version));
            let tx = vec![
                self.put_if(tenant_item, new, &names, vec![])?,
                self.put_if(user_item(admin), new, &names, vec![])?,
                self.put_if(email_item(admin), new, &names, vec![])?,
                self.put_if(tenant_listing_item(&key), new, &names, vec![])?,
                self.host_lockout_unchanged(version)?,
            ];
            return match self.transact(tx).await? {
                Ok(()) => Ok(()),
                Err(failed) if failed.first() == Some(&true) || failed.get(3) == Some(&true) => {
                    Err(StoreError::Conflict("tenant"))
                }
                Err(failed) if failed.get(2) == Some(&true) => Err(StoreError::Conflict("email")),
                Err(failed) if failed.get(4) == Some(&true) => continue,
                Err(_) => Err(StoreError::Conflict("user")),
            };
        }
        Err(StoreError::Unavailable(
            "the host's lockout values kept changing while the tenant was created".into(),
        ))
    }

    async fn tenant(&self, key: &str) -> Result<Option<Tenant>, StoreError> {
        self.get(item::single_key(keys::tenant_pk(key)))
            .await?
            .as_ref()
            .map(tenant_from)
            .transpose()
    }

    async fn set_tenant_feature(
        &self,
        key: &str,
        feature: Behaviour,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        self.update_tenant(
            key,
            Update::default().set("feature", behaviour_value(feature)),
            admin,
        )
        .await
    }

    async fn set_tenant_settings(
        &self,
        key: &str,
        settings: &TwoFactorSettings,
    ) -> Result<(), StoreError> {
        self.update_tenant(
            key,
            Update::default().set("settings", settings_value(settings)),
            None,
        )
        .await
    }

    async fn host_settings(&self) -> Result<Option<TwoFactorSettings>, StoreError> {
        Ok(self.host().await?.settings)
    }

    async fn set_host_settings(&self, settings: &TwoFactorSettings) -> Result<(), StoreError> {
        // An update, not a put: the host's lockout values live in the same item.
        self.update_host(
            Update::default().set("settings", settings_value(settings)),
            None,
        )
        .await
        .map(|_| ())
    }

    async fn host(&self) -> Result<Host, StoreError> {
        match self
            .get(item::single_key(keys::HOST_PK.to_string()))
            .await?
        {
            Some(i) => host_from(&i),
            None => Ok(Host::default()),
        }
    }

    async fn set_host_lockout(
        &self,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        let update = Update::default()
            .set("lockout", lockout_value(lockout))
            .add("lockout_version", n(1));
        // Held to the admin's stamp; the copies that follow carry out what it decided.
        let host = self.update_host(update, admin).await?;
        let version: u64 = Reader(&host).n("lockout_version")?;
        // Every copy is conditional on being older, so two host changes racing
        // leave the newer values everywhere, whatever order the copies land in.
        let mut copies = tokio::task::JoinSet::new();
        for chunk in self.tenant_keys().await?.chunks(16) {
            for key in chunk {
                let (store, key, lockout) = (self.clone(), key.clone(), *lockout);
                copies.spawn(async move { store.copy_host_lockout(&key, &lockout, version).await });
            }
            while let Some(done) = copies.join_next().await {
                done.map_err(|e| {
                    StoreError::Unavailable(format!("copying lockout values: {e}").into())
                })??;
            }
        }
        Ok(())
    }

    async fn set_tenant_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        self.update_tenant(
            key,
            Update::default().set("lockout", lockout_value(lockout)),
            admin,
        )
        .await
    }

    async fn change_settings(
        &self,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
        admin: Option<&AdminStamp>,
    ) -> Result<TwoFactorSettings, StoreError> {
        let key = match scope {
            Side::Host => item::single_key(keys::HOST_PK.to_string()),
            Side::Tenant(k) => item::single_key(keys::tenant_pk(k)),
        };
        let Some(change) = SettingsChange::new(from, to) else {
            return self.settings_at(key, scope).await;
        };
        // The host's settings exist only once saved; the first change sets them whole.
        // The host item may be there already without them (lockout values saved
        // first), so that first save is an update too, never a put that would drop them.
        for _ in 0..4 {
            let call = UpdateCall::new(key.clone(), change.update.clone())
                .when(&change.condition)
                .returning_new()
                .old_on_refusal();
            let old = match self.update_item_as(call, admin).await? {
                Updated::Applied(new) => return settings_or_default(&new),
                Updated::Refused(old) => old,
            };
            let old = match old.filter(|i| !i.is_empty()) {
                Some(i) => Some(i),
                None => self.get(key.clone()).await?,
            };
            // A retry of this very change whose first try went through (its answer lost).
            if let Some(old) = old
                .as_ref()
                .filter(|i| item::written_by(i, &change.write_id))
            {
                return settings_or_default(old);
            }
            let saved = old.as_ref().filter(|i| i.contains_key("settings"));
            match (saved, old.is_some(), scope) {
                // Refused because a field moved: conflict. Refused only because the
                // settings were not there yet and now are (another admin's first save): again.
                (Some(old), _, _) => {
                    if change.moved(from, &settings_or_default(old)?) {
                        return Err(StoreError::Conflict("settings"));
                    }
                }
                (None, false, Side::Tenant(_)) => return Err(StoreError::NotFound),
                (None, true, Side::Tenant(_)) => {
                    return Err(StoreError::Unavailable(
                        "tenant item without settings".into(),
                    ));
                }
                (None, _, Side::Host) if *from == TwoFactorSettings::default() => {
                    // Another admin saved first: change on top of theirs.
                    if self
                        .first_host_settings(&key, to, &change.write_id, admin)
                        .await?
                    {
                        return Ok(to.clone());
                    }
                }
                (None, _, Side::Host) => return Err(StoreError::Conflict("settings")),
            }
        }
        Err(StoreError::Conflict("settings"))
    }
}

impl DynamoStore {
    /// The settings saved at `key` (the host's default while it has saved none).
    async fn settings_at(&self, key: Item, scope: &Side) -> Result<TwoFactorSettings, StoreError> {
        match (self.get(key).await?, scope) {
            (Some(current), _) => settings_or_default(&current),
            (None, Side::Host) => Ok(TwoFactorSettings::default()),
            (None, Side::Tenant(_)) => Err(StoreError::NotFound),
        }
    }

    /// Updates the host's item (creating it if absent); returns it as updated.
    pub(super) async fn update_host(
        &self,
        update: Update,
        admin: Option<&AdminStamp>,
    ) -> Result<Item, StoreError> {
        let key = item::single_key(keys::HOST_PK.to_string());
        match self
            .update_item_as(UpdateCall::new(key, update).returning_new(), admin)
            .await?
        {
            Updated::Applied(item) => Ok(item),
            Updated::Refused(_) => Err(StoreError::Unavailable(
                "an update without a condition was refused".into(),
            )),
        }
    }

    /// Saves the host's settings whole, where none are saved yet; `Ok(false)` when
    /// another admin's first save came first.
    async fn first_host_settings(
        &self,
        key: &Item,
        to: &TwoFactorSettings,
        write_id: &str,
        admin: Option<&AdminStamp>,
    ) -> Result<bool, StoreError> {
        let u = Update::default()
            .set("settings", settings_value(to))
            .set(item::WRITE_ID, s(write_id));
        let call = UpdateCall::new(key.clone(), u).when("attribute_not_exists(#settings)");
        Ok(matches!(
            self.update_item_as(call, admin).await?,
            Updated::Applied(_)
        ))
    }

    /// The host's lockout values as a new tenant copies them, and their version (0
    /// while the host has none).
    async fn host_lockout_copy(&self) -> Result<(Option<LockoutPolicy>, u64), StoreError> {
        let host = self
            .get(item::single_key(keys::HOST_PK.to_string()))
            .await?;
        let version: u64 = match &host {
            Some(h) => Reader(h).opt_n("lockout_version")?.unwrap_or(0),
            None => 0,
        };
        let lockout = host
            .as_ref()
            .map(|h| opt_lockout(h, "lockout"))
            .transpose()?
            .flatten();
        Ok((lockout, version))
    }

    /// A transaction's check that the host's lockout values are still at `version`.
    fn host_lockout_unchanged(&self, version: u64) -> Result<TransactWriteItem, StoreError> {
        let unchanged = if version == 0 {
            "attribute_not_exists(#v)"
        } else {
            "#v = :v"
        };
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::single_key(keys::HOST_PK.to_string())))
            .condition_expression(unchanged)
            .expression_attribute_names("#v", "lockout_version");
        if version > 0 {
            check = check.expression_attribute_values(":v", n(version));
        }
        Ok(TransactWriteItem::builder()
            .condition_check(check.build().map_err(built)?)
            .build())
    }

    /// Every tenant's key, from the listing partition.
    pub(super) async fn tenant_keys(&self) -> Result<Vec<String>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", item::PK)
            .expression_attribute_values(":pk", s(keys::TENANTS_PK))
            .projection_expression("#sk")
            .expression_attribute_names("#sk", item::SK)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(unavailable)?;
        items.iter().map(|i| Reader(i).s(item::SK)).collect()
    }

    /// Copies the host's lockout values of `version` into a tenant unless a newer copy is there.
    pub(super) async fn copy_host_lockout(
        &self,
        key: &str,
        lockout: &LockoutPolicy,
        version: u64,
    ) -> Result<(), StoreError> {
        let update = Update::default()
            .set("host_lockout", lockout_value(lockout))
            .set("host_lockout_version", n(version))
            .with_name(item::PK);
        let call = UpdateCall::new(item::single_key(keys::tenant_pk(key)), update).when(
            "attribute_exists(#pk) AND (attribute_not_exists(#host_lockout_version) OR #host_lockout_version < :host_lockout_version)",
        );
        // Refused, a newer copy is there already (or the tenant is gone): nothing to do.
        self.update_item(call).await?;
        Ok(())
    }

    pub(super) async fn update_tenant(
        &self,
        key: &str,
        update: Update,
        admin: Option<&AdminStamp>,
    ) -> Result<(), StoreError> {
        let update = update.with_name(item::PK);
        let call = UpdateCall::new(item::single_key(keys::tenant_pk(key)), update)
            .when("attribute_exists(#pk)");
        match self.update_item_as(call, admin).await? {
            Updated::Applied(_) => Ok(()),
            Updated::Refused(_) => Err(StoreError::NotFound),
        }
    }
}
