//! The effective two-factor behaviour, decided across the three layers of ABP
//! Commercial's settings: host (or tenant feature, then tenant), then the user.
//! Pure: no I/O, so the whole matrix is tested; the one read of a user's side is
//! `flows::load_side`.

use serde::{Deserialize, Serialize};

use crate::amr::Amr;
use crate::user::User;

/// Whether two-factor authentication is required, left to the user, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Every user must prove a second factor.
    Forced,
    /// Each user's own flag decides.
    Optional,
    /// No user is asked for a second factor.
    Disabled,
}

impl Behaviour {
    /// The contract's name of the behaviour.
    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::Forced => "forced",
            Behaviour::Optional => "optional",
            Behaviour::Disabled => "disabled",
        }
    }

    /// Whether moving from `self` to `to` asks fewer users for a second factor:
    /// forced, then optional (each user's flag), then disabled.
    pub fn weakened_by(self, to: Behaviour) -> bool {
        let rank = |b| match b {
            Behaviour::Forced => 2,
            Behaviour::Optional => 1,
            Behaviour::Disabled => 0,
        };
        rank(to) < rank(self)
    }
}

/// A second factor a sign-in can be finished with: the contract's `provider`. The
/// first three are what a side's settings allow and what a user sets up; a recovery
/// code is accepted whenever the user has one left, and is never a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// A passkey (WebAuthn), see [`crate::passkeys`].
    Passkey,
    /// An authenticator app (TOTP, RFC 6238).
    Authenticator,
    /// A code emailed to a confirmed address.
    Email,
    /// A code texted to a confirmed phone number.
    Sms,
    /// One of the user's recovery codes.
    RecoveryCode,
}

impl Provider {
    /// The providers a side's settings may allow, in the order the contract offers them.
    pub const ALLOWABLE: [Provider; 4] = [
        Provider::Passkey,
        Provider::Authenticator,
        Provider::Email,
        Provider::Sms,
    ];

    /// The contract's name of the provider.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Passkey => "passkey",
            Provider::Authenticator => "authenticator",
            Provider::Email => "email",
            Provider::Sms => "sms",
            Provider::RecoveryCode => "recovery_code",
        }
    }

    /// The provider the contract names `name`, if any.
    pub fn parse(name: &str) -> Option<Provider> {
        [
            Provider::Passkey,
            Provider::Authenticator,
            Provider::Email,
            Provider::Sms,
            Provider::RecoveryCode,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }

    /// The RFC 8176 `amr` value an access token records for a sign-in finished with
    /// it. A passkey's is its own ([`crate::passkeys::Passkey::amr`]: `swk` when it is
    /// synced); a device-bound one's is this.
    pub fn amr(self) -> Amr {
        match self {
            Provider::Passkey => Amr::Hwk,
            Provider::Authenticator => Amr::Otp,
            Provider::Email => Amr::Email,
            Provider::Sms => Amr::Sms,
            Provider::RecoveryCode => Amr::Rec,
        }
    }
}

/// What a confirmation code confirms: an address that, once confirmed, serves a
/// provider. Not a second factor itself (nothing signs in with it), so it is its
/// own small enum beside [`Provider`] rather than more variants of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmPurpose {
    /// The account's email address (`confirm_email`).
    Email,
    /// A phone number (`confirm_phone`).
    Phone,
}

impl ConfirmPurpose {
    /// The contract's name of the purpose.
    pub fn as_str(self) -> &'static str {
        self.code_purpose().as_str()
    }

    /// The purpose the contract names `name`, if any.
    pub fn parse(name: &str) -> Option<ConfirmPurpose> {
        [ConfirmPurpose::Email, ConfirmPurpose::Phone]
            .into_iter()
            .find(|p| p.as_str() == name)
    }

    /// The provider the confirmed address serves.
    pub fn provider(self) -> Provider {
        match self {
            ConfirmPurpose::Email => Provider::Email,
            ConfirmPurpose::Phone => Provider::Sms,
        }
    }

    /// The purpose its code is stored and hashed under.
    pub fn code_purpose(self) -> crate::codes::CodePurpose {
        match self {
            ConfirmPurpose::Email => crate::codes::CodePurpose::ConfirmEmail,
            ConfirmPurpose::Phone => crate::codes::CodePurpose::ConfirmPhone,
        }
    }
}

/// One side's settings (the host's, or a tenant admin's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorSettings {
    /// The side's behaviour.
    pub behaviour: Behaviour,
    /// Whether users may switch their own flag when the behaviour is optional.
    pub users_can_change: bool,
    /// Whether "remember this browser" is offered.
    pub remember_browser: bool,
    /// Providers that may be offered and accepted, kept in the contract's order.
    pub allowed_providers: Vec<Provider>,
}

impl Default for TwoFactorSettings {
    fn default() -> Self {
        Self {
            behaviour: Behaviour::Optional,
            users_can_change: true,
            remember_browser: true,
            allowed_providers: Provider::ALLOWABLE.to_vec(),
        }
    }
}

impl TwoFactorSettings {
    /// Whether `p` is allowed by these settings.
    pub fn allows(&self, p: Provider) -> bool {
        self.allowed_providers.contains(&p)
    }
}

/// Normalises a provider list: no duplicates, in the contract's order.
pub fn normalise_providers(list: &[Provider]) -> Vec<Provider> {
    Provider::ALLOWABLE
        .iter()
        .copied()
        .filter(|p| list.contains(p))
        .collect()
}

/// One setting a change moves, in words fit for the audit log (no secret is a setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// The setting's name in the contract (`feature` for a tenant's feature).
    pub field: &'static str,
    /// Its value before.
    pub from: String,
    /// Its value after.
    pub to: String,
    /// Whether it lowers the protection of every account of the side: a weaker
    /// behaviour, a provider allowed again, remember-browser turned on.
    pub weakens: bool,
}

/// What moves from `before` to `after`, setting by setting.
pub fn setting_changes(
    before: &TwoFactorSettings,
    after: &TwoFactorSettings,
) -> Vec<SettingChange> {
    let names = |ps: &[Provider]| {
        normalise_providers(ps)
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut changes = Vec::new();
    if let Some(c) = behaviour_change("behaviour", before.behaviour, after.behaviour) {
        changes.push(c);
    }
    if before.users_can_change != after.users_can_change {
        changes.push(SettingChange {
            field: "users_can_change",
            from: before.users_can_change.to_string(),
            to: after.users_can_change.to_string(),
            weakens: false,
        });
    }
    if before.remember_browser != after.remember_browser {
        changes.push(SettingChange {
            field: "remember_browser",
            from: before.remember_browser.to_string(),
            to: after.remember_browser.to_string(),
            weakens: after.remember_browser,
        });
    }
    let (from, to) = (
        names(&before.allowed_providers),
        names(&after.allowed_providers),
    );
    if from != to {
        let weakens = after.allowed_providers.iter().any(|p| !before.allows(*p));
        changes.push(SettingChange {
            field: "allowed_providers",
            from,
            to,
            weakens,
        });
    }
    changes
}

/// What moves in a side's lockout values. More attempts or a shorter lock weakens
/// every account of the side at once.
pub fn lockout_changes(
    before: &crate::lockout::LockoutPolicy,
    after: &crate::lockout::LockoutPolicy,
) -> Vec<SettingChange> {
    let mut changes = Vec::new();
    if before.max_failed_attempts != after.max_failed_attempts {
        changes.push(SettingChange {
            field: "max_failed_attempts",
            from: before.max_failed_attempts.to_string(),
            to: after.max_failed_attempts.to_string(),
            weakens: after.max_failed_attempts > before.max_failed_attempts,
        });
    }
    if before.duration_seconds != after.duration_seconds {
        changes.push(SettingChange {
            field: "lockout_seconds",
            from: before.duration_seconds.to_string(),
            to: after.duration_seconds.to_string(),
            weakens: after.duration_seconds < before.duration_seconds,
        });
    }
    changes
}

/// The change of a tenant's feature (the host admin's layer), if it moves.
pub fn feature_change(before: Behaviour, after: Behaviour) -> Option<SettingChange> {
    behaviour_change("feature", before, after)
}

fn behaviour_change(
    field: &'static str,
    before: Behaviour,
    after: Behaviour,
) -> Option<SettingChange> {
    (before != after).then(|| SettingChange {
        field,
        from: before.as_str().to_string(),
        to: after.as_str().to_string(),
        weakens: before.weakened_by(after),
    })
}

/// Which layer decided the effective behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The host's setting (host users).
    Host,
    /// The feature the host admin set for the tenant.
    TenantFeature,
    /// The tenant admin's setting.
    Tenant,
    /// The user's own flag.
    User,
}

/// The layers above a user: the host's settings, or a tenant's feature and settings.
#[derive(Debug, Clone, Copy)]
pub enum Layers<'a> {
    /// A host user.
    Host(&'a TwoFactorSettings),
    /// A tenant user.
    Tenant {
        /// The host admin's feature value for the tenant.
        feature: Behaviour,
        /// The tenant admin's settings.
        settings: &'a TwoFactorSettings,
    },
}

/// What applies to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// The behaviour in force.
    pub behaviour: Behaviour,
    /// The layer that decided it.
    pub decided_by: DecidedBy,
    /// Whether a second factor is asked for at sign-in.
    pub enabled: bool,
    /// Whether the user may change the flag themself.
    pub can_change: bool,
    /// Whether "remember this browser" is offered.
    pub remember_browser_allowed: bool,
    /// Providers that may be offered and accepted.
    pub allowed_providers: Vec<Provider>,
}

/// The effective behaviour for a user whose own flag is `user_flag`.
pub fn effective(layers: Layers<'_>, user_flag: bool) -> Effective {
    let (settings, decided) = match layers {
        Layers::Host(s) => match s.behaviour {
            Behaviour::Optional => (s, None),
            b => (s, Some((b, DecidedBy::Host))),
        },
        Layers::Tenant { feature, settings } => match (feature, settings.behaviour) {
            (Behaviour::Optional, Behaviour::Optional) => (settings, None),
            (Behaviour::Optional, b) => (settings, Some((b, DecidedBy::Tenant))),
            (f, _) => (settings, Some((f, DecidedBy::TenantFeature))),
        },
    };
    let (behaviour, decided_by, enabled) = match decided {
        Some((b, by)) => (b, by, b == Behaviour::Forced),
        None => (Behaviour::Optional, DecidedBy::User, user_flag),
    };
    Effective {
        behaviour,
        decided_by,
        enabled,
        can_change: behaviour == Behaviour::Optional && settings.users_can_change,
        remember_browser_allowed: settings.remember_browser,
        allowed_providers: normalise_providers(&settings.allowed_providers),
    }
}

/// The providers a user can sign in with now: allowed by policy, and set up
/// (authenticator enabled, email or phone confirmed), in the contract's order.
pub fn usable_providers(user: &User, eff: &Effective) -> Vec<Provider> {
    eff.allowed_providers
        .iter()
        .copied()
        .filter(|p| match p {
            Provider::Passkey => !user.passkeys.is_empty(),
            Provider::Authenticator => user.authenticator_enabled(),
            Provider::Email => user.email_confirmed,
            Provider::Sms => user.phone_number.is_some() && user.phone_number_confirmed,
            // Never in a side's settings; recovery codes are counted apart.
            Provider::RecoveryCode => false,
        })
        .collect()
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

/// Whether adding a factor (an authenticator, a new phone) with an access token needs
/// a fresh second factor: when the user can prove one, and when a settings change
/// took every factor it had (`second_factor_lost`) while two-factor sign-in is on.
/// Such a user cannot prove one, but a session of it without a fresh second factor
/// (a remembered browser, a token from before the change) must not add a factor of
/// its own any more than the password alone may: that is the administrator's reset.
pub fn adding_a_factor_needs_step_up(user: &User, eff: &Effective) -> bool {
    can_prove_second_factor(user, eff) || (eff.enabled && user.second_factor_lost)
}

/// Whether a change of policy from `before` to `after` takes every provider the user
/// could sign in with while two-factor sign-in stays on for it. Recovery codes, which
/// no policy moves, may still let it in; once they are spent only a factor it had
/// (allowed again) or an administrator's reset may let it set up a new one, so such
/// a user is marked (`second_factor_lost`) when the change is made. A user for whom
/// two-factor sign-in was off before loses nothing: the password alone was all it
/// took already, so its setting up a first factor gives nobody more than they had.
pub fn loses_every_provider(user: &User, before: &Effective, after: &Effective) -> bool {
    before.enabled
        && after.enabled
        && !usable_providers(user, before).is_empty()
        && usable_providers(user, after).is_empty()
}

/// Whether a change of policy from `before` to `after` strands the user: it could
/// prove a second factor, and now two-factor sign-in is on for it and it can prove
/// none, not even with a recovery code. Its owner is then locked out until an
/// administrator acts, while whoever holds only the password gains nothing (login
/// does not let the password alone enrol a factor on such an account).
pub fn strands(user: &User, before: &Effective, after: &Effective) -> bool {
    loses_every_provider(user, before, after) && user.recovery_codes.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn weakening_changes_are_told_from_the_others() {
        let strict = TwoFactorSettings {
            behaviour: Behaviour::Forced,
            users_can_change: false,
            remember_browser: false,
            allowed_providers: vec![Provider::Authenticator],
        };
        let weakens = |after: TwoFactorSettings| {
            setting_changes(&strict, &after)
                .iter()
                .map(|c| (c.field, c.weakens))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            weakens(TwoFactorSettings {
                behaviour: Behaviour::Optional,
                ..strict.clone()
            }),
            [("behaviour", true)]
        );
        assert_eq!(
            weakens(TwoFactorSettings {
                remember_browser: true,
                ..strict.clone()
            }),
            [("remember_browser", true)]
        );
        assert_eq!(
            weakens(TwoFactorSettings {
                users_can_change: true,
                ..strict.clone()
            }),
            [("users_can_change", false)]
        );
        let swapped = TwoFactorSettings {
            allowed_providers: vec![Provider::Email],
            ..strict.clone()
        };
        assert_eq!(
            weakens(swapped.clone()),
            [("allowed_providers", true)],
            "email is allowed again"
        );
        assert!(
            !setting_changes(
                &swapped,
                &TwoFactorSettings {
                    allowed_providers: vec![],
                    ..strict.clone()
                }
            )[0]
            .weakens
        );
        assert!(setting_changes(&strict, &strict).is_empty());
        assert_eq!(
            feature_change(Behaviour::Disabled, Behaviour::Optional).map(|c| c.weakens),
            Some(false)
        );
        assert_eq!(
            feature_change(Behaviour::Optional, Behaviour::Disabled)
                .map(|c| (c.from, c.to, c.weakens)),
            Some(("optional".into(), "disabled".into(), true))
        );
        assert_eq!(feature_change(Behaviour::Forced, Behaviour::Forced), None);
    }

    fn behaviour() -> impl Strategy<Value = Behaviour> {
        prop_oneof![
            Just(Behaviour::Forced),
            Just(Behaviour::Optional),
            Just(Behaviour::Disabled)
        ]
    }

    fn settings() -> impl Strategy<Value = TwoFactorSettings> {
        (
            behaviour(),
            any::<bool>(),
            any::<bool>(),
            proptest::sample::subsequence(Provider::ALLOWABLE.to_vec(), 0..=4),
        )
            .prop_map(
                |(behaviour, users_can_change, remember_browser, allowed_providers)| {
                    TwoFactorSettings {
                        behaviour,
                        users_can_change,
                        remember_browser,
                        allowed_providers,
                    }
                },
            )
    }

    /// The contract's rules (host, tenant feature, tenant, user), written a second
    /// way: walk the layers top-down and stop at the first one that is not optional.
    fn oracle(
        host: Option<&TwoFactorSettings>,
        feature: Behaviour,
        tenant: &TwoFactorSettings,
        flag: bool,
    ) -> (Behaviour, DecidedBy, bool) {
        let chain: Vec<(Behaviour, DecidedBy)> = match host {
            Some(h) => vec![(h.behaviour, DecidedBy::Host)],
            None => vec![
                (feature, DecidedBy::TenantFeature),
                (tenant.behaviour, DecidedBy::Tenant),
            ],
        };
        for (b, by) in chain {
            if b != Behaviour::Optional {
                return (b, by, b == Behaviour::Forced);
            }
        }
        (Behaviour::Optional, DecidedBy::User, flag)
    }

    proptest! {
        #[test]
        fn host_users_follow_the_host_then_their_flag(s in settings(), flag in any::<bool>()) {
            let e = effective(Layers::Host(&s), flag);
            let (b, by, enabled) = oracle(Some(&s), Behaviour::Optional, &s, flag);
            prop_assert_eq!((e.behaviour, e.decided_by, e.enabled), (b, by, enabled));
            prop_assert_eq!(e.can_change, b == Behaviour::Optional && s.users_can_change);
            prop_assert_eq!(e.remember_browser_allowed, s.remember_browser);
            prop_assert_eq!(e.allowed_providers, normalise_providers(&s.allowed_providers));
        }

        #[test]
        fn tenant_users_follow_feature_then_tenant_then_flag(feature in behaviour(), s in settings(), flag in any::<bool>()) {
            let e = effective(Layers::Tenant { feature, settings: &s }, flag);
            let (b, by, enabled) = oracle(None, feature, &s, flag);
            prop_assert_eq!((e.behaviour, e.decided_by, e.enabled), (b, by, enabled));
            prop_assert_eq!(e.can_change, b == Behaviour::Optional && s.users_can_change);
            prop_assert_eq!(e.remember_browser_allowed, s.remember_browser);
        }
    }

    #[test]
    fn every_combination_of_layers_is_decided_by_the_first_non_optional_layer() {
        let all = [Behaviour::Forced, Behaviour::Optional, Behaviour::Disabled];
        for feature in all {
            for tenant in all {
                for flag in [false, true] {
                    let s = TwoFactorSettings {
                        behaviour: tenant,
                        ..Default::default()
                    };
                    let e = effective(
                        Layers::Tenant {
                            feature,
                            settings: &s,
                        },
                        flag,
                    );
                    let expected_by = if feature != Behaviour::Optional {
                        DecidedBy::TenantFeature
                    } else if tenant != Behaviour::Optional {
                        DecidedBy::Tenant
                    } else {
                        DecidedBy::User
                    };
                    assert_eq!(
                        e.decided_by, expected_by,
                        "feature {feature:?}, tenant {tenant:?}, flag {flag}"
                    );
                    let expected_enabled = match expected_by {
                        DecidedBy::User => flag,
                        DecidedBy::TenantFeature => feature == Behaviour::Forced,
                        _ => tenant == Behaviour::Forced,
                    };
                    assert_eq!(
                        e.enabled, expected_enabled,
                        "feature {feature:?}, tenant {tenant:?}, flag {flag}"
                    );
                }
            }
        }
    }

    fn user_with(authenticator: bool, email: bool, sms: bool, codes: bool) -> User {
        let mut u = User::new(
            crate::side::Side::Host,
            crate::testing::test_email("jo@example.com"),
            String::new(),
            0,
        );
        u.authenticator = authenticator.then(|| crate::user::Authenticator {
            sealed_key: "k".into(),
            enabled: true,
        });
        u.email_confirmed = email;
        u.phone_number = sms.then(|| crate::testing::test_phone("+15555550100"));
        u.phone_number_confirmed = sms;
        if codes {
            u.recovery_codes = vec!["h".into()];
        }
        u
    }

    #[test]
    fn removing_the_only_provider_a_user_has_strands_it_and_recovery_codes_keep_it_in() {
        let all = TwoFactorSettings {
            behaviour: Behaviour::Forced,
            ..Default::default()
        };
        let no_sms = TwoFactorSettings {
            allowed_providers: vec![Provider::Authenticator, Provider::Email],
            ..all.clone()
        };
        let (before, after) = (
            effective(Layers::Host(&all), false),
            effective(Layers::Host(&no_sms), false),
        );
        assert!(strands(
            &user_with(false, false, true, false),
            &before,
            &after
        ));
        assert!(
            !strands(&user_with(false, true, true, false), &before, &after),
            "email is left"
        );
        assert!(
            !strands(&user_with(false, false, true, true), &before, &after),
            "a recovery code is left"
        );
        assert!(
            loses_every_provider(&user_with(false, false, true, true), &before, &after),
            "but once it is spent, the password alone must not enrol a factor"
        );
        assert!(
            !strands(&user_with(false, false, false, false), &before, &after),
            "a user with nothing before loses nothing"
        );
        let optional = TwoFactorSettings {
            behaviour: Behaviour::Optional,
            ..no_sms.clone()
        };
        assert!(
            !strands(
                &user_with(false, false, true, false),
                &effective(Layers::Host(&all), false),
                &effective(Layers::Host(&optional), false)
            ),
            "2FA off after: nothing is asked for"
        );
    }

    proptest! {
        /// Only taking a provider away strands anyone: a behaviour, a feature or a flag
        /// moves whether a factor is asked for, never whether one can be proven.
        #[test]
        fn only_a_provider_taken_away_strands_anyone(
            before in settings(),
            after in settings(),
            (feature_before, feature_after) in (behaviour(), behaviour()),
            (flag_before, flag_after) in (any::<bool>(), any::<bool>()),
            (a, e, p, c) in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        ) {
            let user = user_with(a, e, p, c);
            let b = effective(Layers::Tenant { feature: feature_before, settings: &before }, flag_before);
            let f = effective(Layers::Tenant { feature: feature_after, settings: &after }, flag_after);
            if loses_every_provider(&user, &b, &f) {
                prop_assert!(before.allowed_providers.iter().any(|p| !after.allows(*p)));
            }
            prop_assert!(!strands(&user, &b, &f) || loses_every_provider(&user, &b, &f));
        }
    }

    #[test]
    fn providers_are_offered_in_the_contract_order() {
        assert_eq!(
            normalise_providers(&[Provider::Sms, Provider::Authenticator, Provider::Sms]),
            vec![Provider::Authenticator, Provider::Sms]
        );
    }
}
