//! The store conformance suite: every scenario is written once and run against the
//! memory store and against DynamoDB Local (each test on a fresh table). The
//! concurrency scenarios are what the security rules rest on: a failure is never
//! lost, and a code, a TOTP step, a recovery code or a sign-in works once.

use std::sync::Arc;

use twofa::clock::Timestamp;
use twofa::codes::{CodePurpose, PendingCode};
use twofa::devices::Device;
use twofa::policy::{Behaviour, Provider, TwoFactorSettings};
use twofa::store::dynamo::DynamoStore;
use twofa::store::{FailureCount, Store, StoreError};
use twofa::tenant::{Scope, Tenant};
use twofa::throttle::Window;
use twofa::user::{Authenticator, Role, User, UserPatch};

type Shared = Arc<dyn Store>;

// DynamoDB Local runs TTL: an item whose `expires_at` has passed by the wall clock
// may vanish mid-test. 2100-01-01 keeps every test item alive.
const NOW: Timestamp = 4_102_444_800;

/// Instantiates each scenario once per store.
macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::scenarios::$scenario(std::sync::Arc::new(twofa::store::memory::MemoryStore::new())).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(store) = super::dynamo_store(stringify!($scenario)).await else { return };
                    super::scenarios::$scenario(store).await
                }
            )*
        }
    };
}

suite!(
    a_created_user_is_found_by_id_and_by_email_in_its_scope_only,
    an_email_is_unique_in_its_scope_regardless_of_case_but_free_in_another,
    a_tenant_name_is_unique_regardless_of_case_and_its_admin_is_created_with_it,
    host_settings_are_absent_until_saved_and_then_replaced_whole,
    tenant_feature_and_settings_change_separately_and_only_for_an_existing_tenant,
    a_patch_changes_only_the_fields_it_names,
    patches_running_beside_failures_lose_no_failure,
    twenty_concurrent_failures_are_counted_one_to_twenty,
    a_locked_account_refuses_to_count_failures_until_the_lock_ends,
    a_sign_in_completes_exactly_once_under_concurrency,
    a_totp_step_is_accepted_once_and_never_an_older_one,
    a_recovery_code_is_consumed_exactly_once_under_concurrency,
    a_code_is_taken_once_and_only_with_its_hash,
    a_new_code_replaces_the_pending_one_of_the_same_purpose_only,
    send_windows_are_replaced_only_when_none_moved,
    remembered_browsers_are_listed_touched_and_forgotten_per_user,
);

/// A DynamoDB store on a fresh table, or `None` (skipped) without DynamoDB Local.
async fn dynamo_store(scenario: &str) -> Option<Shared> {
    let store = unready_dynamo_store(scenario)?;
    store.ensure_table().await.expect("creating a table in DynamoDB Local");
    Some(Arc::new(store))
}

/// A DynamoDB store on a table that does not exist yet.
fn unready_dynamo_store(scenario: &str) -> Option<DynamoStore> {
    let endpoint = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build();
    // Table names allow 255 characters of [a-zA-Z0-9_.-].
    let table = format!("suite-{}-{}", &scenario[..scenario.len().min(60)], uuid::Uuid::new_v4().simple());
    // Through from_env, as the Lambdas and the local API build it.
    let env = std::collections::HashMap::from([("TABLE_NAME".to_string(), table), ("DYNAMODB_ENDPOINT".to_string(), endpoint)]);
    Some(DynamoStore::from_env(&env, &sdk).expect("a store from TABLE_NAME and DYNAMODB_ENDPOINT"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ensuring_the_table_from_several_starts_at_once_and_again_later_is_harmless() {
    let Some(store) = unready_dynamo_store("ensure") else { return };
    let (a, b) = tokio::join!(store.ensure_table(), store.ensure_table());
    a.expect("the first of two concurrent ensure_table calls");
    b.expect("the second of two concurrent ensure_table calls");
    store.ensure_table().await.expect("ensure_table on an existing table");
    let store: Shared = Arc::new(store);
    store.set_host_settings(&TwoFactorSettings::default()).await.expect("the ensured table takes writes");
    assert_eq!(store.host_settings().await.unwrap(), Some(TwoFactorSettings::default()));
}

fn user(scope: Scope, email: &str) -> User {
    User {
        id: uuid::Uuid::new_v4().to_string(),
        scope,
        email: email.to_string(),
        email_confirmed: false,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string(),
        phone_number: None,
        phone_number_confirmed: false,
        roles: Vec::new(),
        two_factor_enabled: false,
        authenticator: None,
        totp_last_step: None,
        recovery_codes: Vec::new(),
        failed_count: 0,
        lockout_end: None,
        security_stamp: "stamp-1".to_string(),
        pending_sign_in: None,
        created_at: NOW,
    }
}

fn tenant(name: &str) -> Tenant {
    Tenant { name: name.to_string(), feature: Behaviour::Optional, settings: TwoFactorSettings::default(), created_at: NOW }
}

fn acme() -> Scope {
    Scope::Tenant("acme".to_string())
}

async fn stored(store: &Shared, id: &str) -> User {
    store.user(id).await.expect("reading a user").expect("the user exists")
}

/// Runs `n` copies of `op` at once and returns their answers.
async fn at_once<T, F, Fut>(n: usize, op: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let fut = op(i);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("a concurrent call panicked"));
    }
    out
}

fn trues(results: &[Result<bool, StoreError>]) -> usize {
    results.iter().map(|r| r.as_ref().expect("no store error under concurrency")).filter(|b| **b).count()
}

mod scenarios {
    use super::*;

    pub async fn a_created_user_is_found_by_id_and_by_email_in_its_scope_only(store: Shared) {
        let mut u = user(acme(), "Jo@Example.com");
        u.phone_number = Some("+15555550100".into());
        u.roles = vec![Role::TenantAdmin];
        u.authenticator = Some(Authenticator { sealed_key: "sealed".into(), enabled: false });
        u.recovery_codes = vec!["h1".into(), "h2".into()];
        store.create_user(&u).await.unwrap();

        assert_eq!(store.user(&u.id).await.unwrap(), Some(u.clone()));
        assert_eq!(store.user_by_email(&acme(), "jo@example.com").await.unwrap(), Some(u.clone()));
        assert_eq!(store.user_by_email(&Scope::Host, "jo@example.com").await.unwrap(), None);
        assert_eq!(store.user_by_email(&Scope::Tenant("other".into()), "jo@example.com").await.unwrap(), None);
        assert_eq!(store.user("no-such-user").await.unwrap(), None);
    }

    pub async fn an_email_is_unique_in_its_scope_regardless_of_case_but_free_in_another(store: Shared) {
        let first = user(acme(), "jo@example.com");
        store.create_user(&first).await.unwrap();

        let again = user(acme(), "JO@Example.COM");
        assert!(matches!(store.create_user(&again).await, Err(StoreError::Conflict("email"))));
        assert_eq!(store.user(&again.id).await.unwrap(), None, "a refused user must not be half-stored");

        let elsewhere = user(Scope::Tenant("globex".into()), "jo@example.com");
        store.create_user(&elsewhere).await.unwrap();
        let host = user(Scope::Host, "jo@example.com");
        store.create_user(&host).await.unwrap();
        assert_eq!(store.user_by_email(&acme(), "jo@example.com").await.unwrap().map(|u| u.id), Some(first.id));
        assert_eq!(store.user_by_email(&Scope::Host, "jo@example.com").await.unwrap().map(|u| u.id), Some(host.id));
    }

    pub async fn a_tenant_name_is_unique_regardless_of_case_and_its_admin_is_created_with_it(store: Shared) {
        let mut admin = user(acme(), "admin@acme.test");
        admin.roles = vec![Role::TenantAdmin];
        store.create_tenant(&tenant("Acme"), &admin).await.unwrap();

        assert_eq!(store.tenant("acme").await.unwrap(), Some(tenant("Acme")));
        assert_eq!(store.user_by_email(&acme(), "admin@acme.test").await.unwrap(), Some(admin));

        let other_admin = user(acme(), "boss@acme.test");
        assert!(matches!(store.create_tenant(&tenant("ACME"), &other_admin).await, Err(StoreError::Conflict("tenant"))));
        assert_eq!(store.user(&other_admin.id).await.unwrap(), None, "the refused tenant's admin must not exist");
        assert_eq!(store.tenant("acme").await.unwrap().map(|t| t.name), Some("Acme".to_string()));
        assert_eq!(store.tenant("globex").await.unwrap(), None);
    }

    pub async fn host_settings_are_absent_until_saved_and_then_replaced_whole(store: Shared) {
        assert_eq!(store.host_settings().await.unwrap(), None);
        let forced = TwoFactorSettings { behaviour: Behaviour::Forced, allowed_providers: vec![Provider::Authenticator], ..Default::default() };
        store.set_host_settings(&forced).await.unwrap();
        assert_eq!(store.host_settings().await.unwrap(), Some(forced));
        let open = TwoFactorSettings { users_can_change: false, remember_browser: false, allowed_providers: vec![], ..Default::default() };
        store.set_host_settings(&open).await.unwrap();
        assert_eq!(store.host_settings().await.unwrap(), Some(open));
    }

    pub async fn tenant_feature_and_settings_change_separately_and_only_for_an_existing_tenant(store: Shared) {
        store.create_tenant(&tenant("Acme"), &user(acme(), "admin@acme.test")).await.unwrap();
        let settings = TwoFactorSettings { behaviour: Behaviour::Disabled, allowed_providers: vec![Provider::Email, Provider::Sms], ..Default::default() };

        store.set_tenant_feature("acme", Behaviour::Forced).await.unwrap();
        store.set_tenant_settings("acme", &settings).await.unwrap();
        let t = store.tenant("acme").await.unwrap().unwrap();
        assert_eq!((t.feature, t.settings, t.name), (Behaviour::Forced, settings.clone(), "Acme".to_string()));

        store.set_tenant_feature("acme", Behaviour::Disabled).await.unwrap();
        assert_eq!(store.tenant("acme").await.unwrap().unwrap().settings, settings, "the feature write kept the settings");

        assert!(matches!(store.set_tenant_feature("globex", Behaviour::Forced).await, Err(StoreError::NotFound)));
        assert!(matches!(store.set_tenant_settings("globex", &settings).await, Err(StoreError::NotFound)));
        assert_eq!(store.tenant("globex").await.unwrap(), None, "a refused write must not create the tenant");
    }

    pub async fn a_patch_changes_only_the_fields_it_names(store: Shared) {
        let mut u = user(Scope::Host, "jo@example.com");
        u.phone_number = Some("+15555550100".into());
        u.authenticator = Some(Authenticator { sealed_key: "sealed".into(), enabled: true });
        u.recovery_codes = vec!["h1".into()];
        store.create_user(&u).await.unwrap();
        store.record_failure(&u.id, NOW).await.unwrap();

        let patch = UserPatch { two_factor_enabled: Some(true), phone_number: Some(None), pending_sign_in: Some(Some("sid".into())), ..Default::default() };
        store.update_user(&u.id, &patch).await.unwrap();
        let mut expected = u.clone();
        patch.apply(&mut expected);
        expected.failed_count = 1;
        assert_eq!(stored(&store, &u.id).await, expected);

        let patch = UserPatch {
            authenticator: Some(None),
            recovery_codes: Some(vec![]),
            security_stamp: Some("stamp-2".into()),
            email_confirmed: Some(true),
            reset_failures: true,
            ..Default::default()
        };
        store.update_user(&u.id, &patch).await.unwrap();
        patch.apply(&mut expected);
        assert_eq!(stored(&store, &u.id).await, expected);

        let restore = UserPatch { recovery_codes: Some(vec!["h2".into(), "h3".into()]), phone_number: Some(Some("+15555550101".into())), ..Default::default() };
        store.update_user(&u.id, &restore).await.unwrap();
        restore.apply(&mut expected);
        assert_eq!(stored(&store, &u.id).await, expected);

        assert!(matches!(store.update_user("no-such-user", &patch).await, Err(StoreError::NotFound)));
        assert!(matches!(store.update_user("no-such-user", &UserPatch::default()).await, Err(StoreError::NotFound)));
        assert_eq!(store.user("no-such-user").await.unwrap(), None, "a refused patch must not create a user");
    }

    pub async fn patches_running_beside_failures_lose_no_failure(store: Shared) {
        let u = user(Scope::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let results = at_once(20, |i| {
            let (store, id) = (store.clone(), u.id.clone());
            async move {
                if i % 2 == 0 {
                    store.record_failure(&id, NOW).await.map(|_| ())
                } else {
                    store.update_user(&id, &UserPatch { two_factor_enabled: Some(true), security_stamp: Some(format!("s{i}")), ..Default::default() }).await
                }
            }
        })
        .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let after = stored(&store, &u.id).await;
        assert_eq!(after.failed_count, 10);
        assert!(after.two_factor_enabled);
    }

    pub async fn twenty_concurrent_failures_are_counted_one_to_twenty(store: Shared) {
        let u = user(Scope::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let mut counts: Vec<u32> = at_once(20, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { store.record_failure(&id, NOW).await }
        })
        .await
        .into_iter()
        .map(|r| match r {
            Ok(FailureCount::Counted(n)) => n,
            other => panic!("expected a count, got {other:?}"),
        })
        .collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=20).collect::<Vec<u32>>());
        assert!(matches!(store.record_failure("no-such-user", NOW).await, Err(StoreError::NotFound)));
    }

    pub async fn a_locked_account_refuses_to_count_failures_until_the_lock_ends(store: Shared) {
        let u = user(Scope::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store.update_user(&u.id, &UserPatch { pending_sign_in: Some(Some("sid".into())), ..Default::default() }).await.unwrap();
        store.record_failure(&u.id, NOW).await.unwrap();
        let until = NOW + 300;

        store.lock(&u.id, until).await.unwrap();
        let locked = stored(&store, &u.id).await;
        assert_eq!((locked.lockout_end, locked.failed_count, locked.pending_sign_in), (Some(until), 0, None));

        assert_eq!(store.record_failure(&u.id, NOW).await.unwrap(), FailureCount::Locked(until));
        assert_eq!(store.record_failure(&u.id, until - 1).await.unwrap(), FailureCount::Locked(until));
        assert_eq!(stored(&store, &u.id).await.failed_count, 0, "refused failures are not counted");
        assert_eq!(store.record_failure(&u.id, until).await.unwrap(), FailureCount::Counted(1));
        assert!(!store.complete_sign_in(&u.id, "sid").await.unwrap(), "a lock ends the sign-in in progress");
        assert!(matches!(store.lock("no-such-user", until).await, Err(StoreError::NotFound)));
    }

    pub async fn a_sign_in_completes_exactly_once_under_concurrency(store: Shared) {
        let u = user(Scope::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store.update_user(&u.id, &UserPatch { pending_sign_in: Some(Some("sid-1".into())), ..Default::default() }).await.unwrap();
        store.record_failure(&u.id, NOW).await.unwrap();

        assert!(!store.complete_sign_in(&u.id, "sid-other").await.unwrap());
        let results = at_once(10, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { store.complete_sign_in(&id, "sid-1").await }
        })
        .await;
        assert_eq!(trues(&results), 1);
        let after = stored(&store, &u.id).await;
        assert_eq!((after.pending_sign_in, after.failed_count), (None, 0));
        assert!(!store.complete_sign_in(&u.id, "sid-1").await.unwrap());
        assert!(!store.complete_sign_in("no-such-user", "sid-1").await.unwrap());
    }

    pub async fn a_totp_step_is_accepted_once_and_never_an_older_one(store: Shared) {
        let u = user(Scope::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();

        assert!(store.advance_totp_step(&u.id, 100).await.unwrap());
        assert!(!store.advance_totp_step(&u.id, 100).await.unwrap(), "the same step twice");
        assert!(!store.advance_totp_step(&u.id, 99).await.unwrap(), "an older step");
        assert!(store.advance_totp_step(&u.id, 101).await.unwrap());

        let results = at_once(10, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { store.advance_totp_step(&id, 200).await }
        })
        .await;
        assert_eq!(trues(&results), 1);
        assert_eq!(stored(&store, &u.id).await.totp_last_step, Some(200));
        assert!(!store.advance_totp_step("no-such-user", 300).await.unwrap());
        assert_eq!(store.user("no-such-user").await.unwrap(), None);
    }

    pub async fn a_recovery_code_is_consumed_exactly_once_under_concurrency(store: Shared) {
        let mut u = user(Scope::Host, "jo@example.com");
        u.recovery_codes = vec!["h-a".into(), "h-b".into(), "h-c".into()];
        store.create_user(&u).await.unwrap();

        let results = at_once(10, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { store.consume_recovery_code(&id, "h-b").await }
        })
        .await;
        assert_eq!(trues(&results), 1);
        assert_eq!(stored(&store, &u.id).await.recovery_codes, vec!["h-a".to_string(), "h-c".to_string()]);
        assert!(!store.consume_recovery_code(&u.id, "h-unknown").await.unwrap());

        assert!(store.consume_recovery_code(&u.id, "h-a").await.unwrap());
        assert!(store.consume_recovery_code(&u.id, "h-c").await.unwrap());
        assert!(stored(&store, &u.id).await.recovery_codes.is_empty());
        assert!(!store.consume_recovery_code(&u.id, "h-c").await.unwrap());
        assert!(!store.consume_recovery_code("no-such-user", "h-a").await.unwrap());
    }

    fn code(user_id: &str, purpose: CodePurpose, hash: &str) -> PendingCode {
        PendingCode {
            user_id: user_id.to_string(),
            purpose,
            destination: "+15555550100".to_string(),
            hash: hash.to_string(),
            created_at: NOW,
            expires_at: NOW + 300,
        }
    }

    pub async fn a_code_is_taken_once_and_only_with_its_hash(store: Shared) {
        let c = code("u1", CodePurpose::SignInSms, "hash-1");
        store.put_code(&c).await.unwrap();

        assert!(!store.take_code("u1", CodePurpose::SignInSms, "hash-wrong").await.unwrap());
        assert_eq!(store.code("u1", CodePurpose::SignInSms).await.unwrap(), Some(c), "a wrong code leaves the right one usable");
        assert!(!store.take_code("u2", CodePurpose::SignInSms, "hash-1").await.unwrap(), "another user's code");
        assert!(!store.take_code("u1", CodePurpose::ConfirmPhone, "hash-1").await.unwrap(), "another purpose");

        let results = at_once(10, |_| {
            let store = store.clone();
            async move { store.take_code("u1", CodePurpose::SignInSms, "hash-1").await }
        })
        .await;
        assert_eq!(trues(&results), 1);
        assert_eq!(store.code("u1", CodePurpose::SignInSms).await.unwrap(), None);
    }

    pub async fn a_new_code_replaces_the_pending_one_of_the_same_purpose_only(store: Shared) {
        store.put_code(&code("u1", CodePurpose::SignInEmail, "old")).await.unwrap();
        store.put_code(&code("u1", CodePurpose::ConfirmEmail, "confirm")).await.unwrap();
        let newer = code("u1", CodePurpose::SignInEmail, "new");
        store.put_code(&newer).await.unwrap();

        assert_eq!(store.code("u1", CodePurpose::SignInEmail).await.unwrap(), Some(newer));
        assert!(!store.take_code("u1", CodePurpose::SignInEmail, "old").await.unwrap(), "the replaced code is dead");
        assert_eq!(store.code("u1", CodePurpose::ConfirmEmail).await.unwrap().map(|c| c.hash), Some("confirm".to_string()));

        store.delete_code("u1", CodePurpose::ConfirmEmail).await.unwrap();
        assert_eq!(store.code("u1", CodePurpose::ConfirmEmail).await.unwrap(), None);
        store.delete_code("u1", CodePurpose::ConfirmEmail).await.unwrap();
    }

    pub async fn send_windows_are_replaced_only_when_none_moved(store: Shared) {
        let keys = vec!["cooldown:u1:sms".to_string(), "dest:+15555550100".to_string()];
        assert_eq!(store.windows(&keys).await.unwrap(), vec![None, None]);

        let first = [Window { count: 1, window_end: NOW + 30 }, Window { count: 1, window_end: NOW + 3600 }];
        assert!(store.replace_windows(&keys, &[None, None], &first).await.unwrap());
        assert_eq!(store.windows(&keys).await.unwrap(), vec![Some(first[0]), Some(first[1])]);
        assert!(!store.replace_windows(&keys, &[None, None], &first).await.unwrap(), "a stale read must not overwrite");

        let old = [Some(first[0]), Some(first[1])];
        let second = [Window { count: 2, window_end: NOW + 30 }, Window { count: 2, window_end: NOW + 3600 }];
        let results = at_once(8, |_| {
            let (store, keys) = (store.clone(), keys.clone());
            async move { store.replace_windows(&keys, &old, &second).await }
        })
        .await;
        assert_eq!(trues(&results), 1, "{results:?}");
        assert_eq!(store.windows(&keys).await.unwrap(), vec![Some(second[0]), Some(second[1])]);

        let partly_stale = [Some(second[0]), Some(first[1])];
        assert!(!store.replace_windows(&keys, &partly_stale, &first).await.unwrap(), "one moved window refuses all");
        assert_eq!(store.windows(&keys).await.unwrap(), vec![Some(second[0]), Some(second[1])], "nothing was written");

        let repeated = vec![keys[1].clone(), "tenant:acme".to_string(), keys[1].clone()];
        assert_eq!(store.windows(&repeated).await.unwrap(), vec![Some(second[1]), None, Some(second[1])]);
    }

    fn device(user_id: &str, device_id: &str, created_at: Timestamp) -> Device {
        Device {
            user_id: user_id.to_string(),
            device_id: device_id.to_string(),
            token_hash: format!("hash-{device_id}"),
            security_stamp: "stamp-1".to_string(),
            created_at,
            last_used_at: created_at,
            expires_at: created_at + 14 * 86_400,
            user_agent: (created_at % 2 == 0).then(|| "Firefox".to_string()),
        }
    }

    pub async fn remembered_browsers_are_listed_touched_and_forgotten_per_user(store: Shared) {
        let (d1, d2, other) = (device("u1", "d1", NOW + 10), device("u1", "d2", NOW + 5), device("u2", "d1", NOW));
        for d in [&d1, &d2, &other] {
            store.put_device(d).await.unwrap();
        }
        assert_eq!(store.devices("u1").await.unwrap(), vec![d2.clone(), d1.clone()], "oldest first");
        assert_eq!(store.device("u1", "d1").await.unwrap(), Some(d1.clone()));
        assert_eq!(store.device("u1", "d9").await.unwrap(), None);

        store.touch_device("u1", "d1", NOW + 50).await.unwrap();
        assert_eq!(store.device("u1", "d1").await.unwrap().map(|d| d.last_used_at), Some(NOW + 50));
        store.touch_device("u1", "d9", NOW + 50).await.unwrap();
        assert_eq!(store.device("u1", "d9").await.unwrap(), None, "touching a forgotten browser does not bring it back");

        assert!(store.delete_device("u1", "d1").await.unwrap());
        assert!(!store.delete_device("u1", "d1").await.unwrap());
        assert_eq!(store.devices("u1").await.unwrap(), vec![d2]);

        // More than one batch of deletes.
        for i in 0..30 {
            store.put_device(&device("u1", &format!("many{i}"), NOW + i)).await.unwrap();
        }
        store.delete_devices("u1").await.unwrap();
        assert_eq!(store.devices("u1").await.unwrap(), vec![]);
        assert_eq!(store.devices("u2").await.unwrap(), vec![other], "another user's browsers stay");
        store.delete_devices("nobody").await.unwrap();
    }
}
