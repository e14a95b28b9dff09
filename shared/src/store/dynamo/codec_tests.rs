//! Every record kind survives the round trip through its item.

use super::codes::{code_from, code_item};
use super::devices::{device_from, device_item};
use super::events::{event_from, event_item};
use super::item::{
    Item, PK, Reader, SIDE_PK, SIDE_SK, SK, TTL, TTL_GRACE_SECONDS, VALID_UNTIL, keys, n, s,
    single_key, ttl_after,
};
use super::limits::window_from;
use super::sessions::{session_from, session_item};
use super::tenants::{tenant_from, tenant_item};
use super::users::{user_from, user_item};
use crate::amr::Amr;
use crate::audit::{EventType, SecurityEvent};
use crate::codes::{CodePurpose, PendingCode};
use crate::devices::Device;
use crate::lockout::LockoutPolicy;
use crate::policy::{Behaviour, TwoFactorSettings};
use crate::sessions::Session;
use crate::side::Side;
use crate::store::StoreError;
use crate::tenant::Tenant;
use crate::throttle::Window;
use crate::user::{Authenticator, Role, User};

fn user() -> User {
    User {
        id: "u1".into(),
        side: Side::Tenant("acme".into()),
        email: crate::testing::test_email("Jo@Example.com"),
        email_confirmed: true,
        password_hash: "$argon2id$x".into(),
        phone_number: Some(crate::testing::test_phone("+15555550100")),
        phone_number_confirmed: false,
        roles: vec![Role::TenantAdmin],
        two_factor_enabled: true,
        authenticator: Some(Authenticator {
            sealed_key: "sealed".into(),
            enabled: true,
        }),
        totp_last_step: Some(7),
        recovery_codes: vec!["a".into(), "b".into()],
        failed_count: 3,
        lockout_end: Some(99),
        security_stamp: "stamp".into(),
        pending_sign_in: Some("sid".into()),
        created_at: 1,
        second_factor_lost: true,
        passkeys: vec![crate::passkeys::Passkey {
            id: "pk-1".into(),
            credential_id: "Y3JlZA".into(),
            name: "Laptop".into(),
            created_at: 2,
            last_used_at: Some(3),
            backed_up: true,
            counter: 4,
            credential: "{}".into(),
        }],
    }
}

#[test]
pub(super) fn a_user_survives_the_round_trip_through_an_item() {
    let u = user();
    assert_eq!(user_from(&user_item(&u)).unwrap(), u);
    let bare = User {
        phone_number: None,
        authenticator: None,
        totp_last_step: None,
        recovery_codes: vec![],
        lockout_end: None,
        pending_sign_in: None,
        roles: vec![],
        passkeys: vec![],
        ..u
    };
    let item = user_item(&bare);
    assert!(
        !item.contains_key("lockout_end") && !item.contains_key("recovery_codes"),
        "absent fields must be absent attributes"
    );
    assert_eq!(user_from(&item).unwrap(), bare);
}

#[test]
pub(super) fn tenants_codes_devices_and_windows_survive_the_round_trip() {
    let t = Tenant {
        name: "Acme".into(),
        feature: Behaviour::Forced,
        settings: TwoFactorSettings::default(),
        created_at: 5,
        lockout: None,
        host_lockout: None,
    };
    assert_eq!(tenant_from(&tenant_item(&t)).unwrap(), t);
    let own = LockoutPolicy {
        max_failed_attempts: 3,
        duration_seconds: 60,
    };
    let host = LockoutPolicy {
        max_failed_attempts: 7,
        duration_seconds: 900,
    };
    let t = Tenant {
        lockout: Some(own),
        host_lockout: Some(host),
        ..t
    };
    assert_eq!(tenant_from(&tenant_item(&t)).unwrap(), t);
    let c = PendingCode {
        user_id: "u".into(),
        purpose: CodePurpose::ConfirmPhone,
        destination: "+1".into(),
        hash: "h".into(),
        created_at: 1,
        expires_at: 2,
    };
    assert_eq!(code_from(&code_item(&c)).unwrap(), c);
    let d = Device {
        user_id: "u".into(),
        device_id: "d".into(),
        token_hash: "h".into(),
        security_stamp: "s".into(),
        created_at: 1,
        last_used_at: 2,
        expires_at: 3,
        user_agent: Some("ua".into()),
    };
    assert_eq!(device_from(&device_item(&d)).unwrap(), d);
    let w = Window {
        count: 4,
        window_end: 9,
    };
    assert_eq!(window_from(&window_item("k", &w)).unwrap(), w);
}

#[test]
pub(super) fn an_event_survives_the_round_trip_and_sits_in_its_user_partition_and_side_index() {
    let origin = crate::audit::Origin {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("ua".into()),
    };
    let e = SecurityEvent::new(EventType::SignIn, &user(), 50, 90, &origin)
        .detail("amr", vec!["pwd", "otp"]);
    let i = event_item(&e).unwrap();
    assert_eq!(event_from(&i).unwrap(), e);
    assert_eq!(Reader(&i).s(PK).unwrap(), "USER#u1");
    assert_eq!(Reader(&i).s(SIDE_PK).unwrap(), "EVENTS#t:acme");
    assert!(Reader(&i).s(SK).unwrap().starts_with("EVENT#000000000050#"));
}

#[test]
pub(super) fn a_user_item_is_indexed_under_its_side_by_lower_case_email() {
    let i = user_item(&user());
    assert_eq!(Reader(&i).s(SIDE_PK).unwrap(), "USERS#t:acme");
    assert_eq!(Reader(&i).s(SIDE_SK).unwrap(), "jo@example.com");
}

#[test]
pub(super) fn ttl_deletes_codes_devices_and_windows_only_a_day_after_they_expire() {
    let c = PendingCode {
        user_id: "u".into(),
        purpose: CodePurpose::SignInSms,
        destination: "+1".into(),
        hash: "h".into(),
        created_at: 1,
        expires_at: 300,
    };
    assert_eq!(code_item(&c).get(TTL), Some(&n(300 + TTL_GRACE_SECONDS)));
    let reset = PendingCode {
        purpose: CodePurpose::PasswordReset,
        ..c.clone()
    };
    assert_eq!(
        code_item(&reset).get(TTL),
        None,
        "a reset code is never swept: its answer must not flip"
    );
    assert_eq!(code_item(&reset).get(VALID_UNTIL), Some(&n(300)));
    let d = Device {
        user_id: "u".into(),
        device_id: "d".into(),
        token_hash: "h".into(),
        security_stamp: "s".into(),
        created_at: 1,
        last_used_at: 2,
        expires_at: 3,
        user_agent: None,
    };
    assert_eq!(device_item(&d).get(TTL), Some(&n(3 + TTL_GRACE_SECONDS)));
    assert_eq!(
        window_item(
            "k",
            &Window {
                count: 1,
                window_end: 9
            }
        )
        .get(TTL),
        Some(&n(9 + TTL_GRACE_SECONDS))
    );
}

#[test]
pub(super) fn a_code_stored_before_the_grace_period_reads_its_expiry_from_its_ttl() {
    let c = PendingCode {
        user_id: "u".into(),
        purpose: CodePurpose::SignInSms,
        destination: "+1".into(),
        hash: "h".into(),
        created_at: 1,
        expires_at: 300,
    };
    let mut old = code_item(&c);
    old.remove(VALID_UNTIL);
    old.insert(TTL.to_string(), n(300));
    assert_eq!(code_from(&old).unwrap(), c);
}

#[test]
pub(super) fn a_mistyped_attribute_is_reported_as_corrupt_not_a_panic() {
    let mut i = user_item(&user());
    i.insert("failed_count".into(), s("three"));
    assert!(matches!(user_from(&i), Err(StoreError::Corrupt(m)) if m.contains("failed_count")));
}

#[test]
pub(super) fn a_negative_count_left_by_an_unconditioned_give_back_reads_as_zero() {
    let mut i = user_item(&user());
    i.insert("failed_count".into(), n(-1));
    assert_eq!(user_from(&i).unwrap().failed_count, 0);
}

/// A send window's item; TTL deletes it a grace period after the window ends.
/// (The store writes windows by update expressions; this is their layout.)
fn window_item(key: &str, w: &Window) -> Item {
    let mut i = single_key(keys::window_pk(key));
    i.insert("count".to_string(), n(w.count));
    i.insert("window_end".to_string(), n(w.window_end));
    i.insert(TTL.to_string(), n(ttl_after(w.window_end)));
    i
}

#[test]
pub(super) fn a_session_survives_the_round_trip_and_is_swept_a_day_after_it_expires() {
    let x = Session {
        user_id: "u".into(),
        session_id: "s".into(),
        generation: u64::MAX,
        refresh_hash: "h".into(),
        security_stamp: "st".into(),
        amr: vec![Amr::Pwd, Amr::Otp],
        auth_time: 1,
        mfa_at: Some(2),
        created_at: 3,
        last_used_at: 4,
        expires_at: 5,
        ip: Some("192.0.2.1".into()),
        user_agent: Some("ua".into()),
        rotation_id: "r".into(),
    };
    assert_eq!(session_from(&session_item(&x)).unwrap(), x);
    let bare = Session {
        amr: vec![],
        mfa_at: None,
        ip: None,
        user_agent: None,
        rotation_id: String::new(),
        generation: 0,
        ..x.clone()
    };
    assert_eq!(session_from(&session_item(&bare)).unwrap(), bare);
    let i = session_item(&x);
    assert_eq!(i.get(TTL), Some(&n(5 + TTL_GRACE_SECONDS)));
    assert_eq!(i.get(VALID_UNTIL), Some(&n(5)));
    assert_eq!(i.get(SK), Some(&s("SESSION#s")));
    let mut unknown = i.clone();
    unknown.insert(
        "amr".into(),
        aws_sdk_dynamodb::types::AttributeValue::L(vec![s("mfa")]),
    );
    assert!(matches!(
        session_from(&unknown),
        Err(StoreError::Corrupt(_))
    ));
}
