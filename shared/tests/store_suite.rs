//! The store conformance suite: every scenario is written once and run against the
//! memory store and against DynamoDB Local (each test on a fresh table). The
//! concurrency scenarios are what the security rules rest on: a failure is never
//! lost, and a code, a TOTP step, a recovery code or a sign-in works once.

use std::sync::Arc;

use twofa::amr::Amr;
use twofa::audit::{EventType, Origin, SecurityEvent};
use twofa::clock::Timestamp;
use twofa::codes::{CodePurpose, PendingCode};
use twofa::devices::Device;
use twofa::email::Email;
use twofa::ids::{
    AttemptId, CeremonyId, DeviceId, PasskeyId, RequestId, SessionId, SignInId, UserId,
};
use twofa::lockout::LockoutPolicy;
use twofa::passkeys::{Asserted, Ceremony, MAX_PER_USER, Passkey, Purpose};
use twofa::policy::{Behaviour, Provider, TwoFactorSettings};
use twofa::sessions::Session;
use twofa::side::Side;
use twofa::store::dynamo::DynamoStore;
use twofa::store::rekey::{Rekeyed, rekey_emails};
use twofa::store::{
    HARD_LIMIT, HARD_LOCK_SECONDS, Page, PageKey, PasskeyAdded, Rotation, STAMP, Slot, Spend,
    Store, StoreError, Subject, Succeeded, Success, Unlocked,
};
use twofa::tenant::Tenant;
use twofa::throttle::{Limit, Taken, Window};
use twofa::user::{AdminStamp, Authenticator, Role, User, UserPatch};

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
                #[cfg_attr(no_dynamodb, ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)")]
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
    two_admins_changing_different_settings_at_once_both_keep_their_change,
    a_settings_change_decided_on_a_value_that_moved_is_refused_and_writes_nothing,
    an_authenticator_write_applies_only_while_the_authenticator_is_what_was_read,
    a_write_made_under_a_stamp_changes_nothing_once_the_stamp_changed,
    a_sign_out_racing_rotations_made_under_the_old_stamp_always_has_the_last_word,
    a_success_enabling_an_authenticator_is_refused_once_the_pending_one_changed,
    a_patch_changes_only_the_fields_it_names,
    patches_running_beside_failures_lose_no_failure,
    twenty_concurrent_slots_are_counted_one_to_twenty,
    slots_run_out_at_the_limit_before_anything_is_judged,
    a_locked_account_refuses_slots_until_the_lock_ends,
    a_success_is_refused_once_the_account_locked_while_it_was_judged,
    a_sign_in_completes_exactly_once_under_concurrency,
    a_totp_step_is_accepted_once_and_never_an_older_one,
    a_recovery_code_is_consumed_exactly_once_under_concurrency,
    a_sent_code_is_spent_with_its_sign_in_in_one_write,
    a_right_password_before_a_second_factor_gives_its_slot_back_and_keeps_earlier_failures,
    a_slot_given_back_after_a_lock_reset_the_count_leaves_the_user_readable,
    a_slot_given_back_after_the_count_was_reset_leaves_later_failures_counted,
    two_unlocks_in_the_same_second_are_two_unlocks,
    a_retried_give_back_gives_the_slot_back_once,
    a_hard_lock_replaces_a_shorter_lock_and_restarts_the_streak,
    consecutive_failures_are_bounded_across_lock_periods,
    an_unknown_email_counts_and_locks_like_an_account_and_never_blocks_registering_it,
    a_retried_slot_or_success_is_recognised_as_its_own,
    a_code_is_taken_once_and_only_with_its_hash,
    a_new_code_replaces_the_pending_one_of_the_same_purpose_only,
    sends_racing_under_one_limit_are_all_counted_up_to_the_cap_and_no_further,
    an_ended_window_starts_again_at_one_and_a_give_back_touches_only_its_own_window,
    remembered_browsers_are_listed_touched_and_forgotten_per_user,
    remembering_more_browsers_than_the_bound_forgets_the_oldest_of_that_user_only,
    sessions_are_listed_oldest_first_per_user_and_read_with_their_user_in_one_call,
    starting_more_sessions_than_the_bound_ends_the_oldest_of_that_user_only,
    a_rotation_applies_once_from_its_generation_and_never_after_expiry,
    of_concurrent_rotations_from_one_generation_exactly_one_wins,
    a_rotation_is_refused_once_the_users_stamp_changed_or_the_user_is_locked,
    a_session_is_restamped_only_while_it_exists,
    a_session_ends_once_and_ending_all_ends_only_that_users,
    a_side_lists_its_users_by_email_prefix_a_page_at_a_time_and_never_another_sides,
    unlocking_ends_the_lock_and_clears_the_count_of_an_existing_user_only,
    an_admins_change_to_another_user_is_written_only_while_the_admins_stamp_holds,
    an_admins_change_to_a_side_is_written_only_while_the_admins_stamp_holds,
    unlocking_keeps_the_streak_and_never_ends_the_lock_of_a_hundred_consecutive_failures,
    a_lost_second_factor_mark_is_kept_until_a_reset_of_the_second_factor,
    events_are_listed_newest_first_per_user_and_per_side_a_page_at_a_time,
    a_password_reset_code_is_a_purpose_of_its_own_taken_once,
    the_hosts_lockout_values_reach_every_tenant_item_and_a_tenants_own_values_win,
    lockout_values_and_two_factor_settings_of_one_item_are_written_apart,
    an_admins_settings_changes_and_lockout_changes_leave_each_other_in_place,
    racing_host_lockout_changes_and_tenant_creations_leave_every_tenant_with_the_newest_values,
    a_passkey_is_claimed_once_in_its_side_and_removed_with_its_claim,
    a_passkey_is_added_only_under_the_stamp_read_and_up_to_the_bound,
    a_ceremony_is_taken_once_under_concurrency_and_never_after_it_expired,
    an_assertion_moves_the_counter_once_under_concurrency,
    a_stored_address_is_moved_to_its_key_once_and_a_twin_stays_where_it_is,
    every_user_of_every_side_is_read_once_a_page_at_a_time,
);

/// A DynamoDB store on a fresh table, or `None` (skipped) without DynamoDB Local.
async fn dynamo_store(scenario: &str) -> Option<Shared> {
    let store = unready_dynamo_store(scenario)?;
    store
        .ensure_table()
        .await
        .expect("creating a table in DynamoDB Local");
    Some(Arc::new(store))
}

/// A DynamoDB store on a table that does not exist yet.
fn unready_dynamo_store(scenario: &str) -> Option<DynamoStore> {
    unready_dynamo_table(scenario).map(|(store, _, _)| store)
}

/// A DynamoDB store on a table that does not exist yet, with a client that reaches
/// its table without the store and the table's name.
fn unready_dynamo_table(scenario: &str) -> Option<(DynamoStore, aws_sdk_dynamodb::Client, String)> {
    let endpoint = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT")?;
    let sdk = twofa::testing::emulator_sdk_config(&endpoint);
    // Table names allow 255 characters of [a-zA-Z0-9_.-].
    let table = format!(
        "suite-{}-{}",
        &scenario[..scenario.len().min(60)],
        uuid::Uuid::new_v4().simple()
    );
    let raw = aws_sdk_dynamodb::Client::new(&sdk);
    // Through from_env, as the Lambdas and the local API build it.
    let env = std::collections::HashMap::from([
        ("TABLE_NAME".to_string(), table.clone()),
        ("DYNAMODB_ENDPOINT".to_string(), endpoint),
    ]);
    let store =
        DynamoStore::from_env(&env, &sdk).expect("a store from TABLE_NAME and DYNAMODB_ENDPOINT");
    Some((store, raw, table))
}

// Stored text is planted by hand, which differs per store, so this scenario is
// instantiated here rather than by `suite!`.
mod unparsable_stored_text {
    use std::sync::Arc;

    use twofa::store::memory::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn in_memory_reads_as_a_corrupt_item() {
        let store = Arc::new(MemoryStore::new());
        let planted = store.clone();
        super::scenarios::unparsable_stored_text_reads_as_a_corrupt_item(
            store,
            async |id: &twofa::ids::UserId, attribute: &str, text: &str| {
                planted.plant_stored_text(id, attribute, text)
            },
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        no_dynamodb,
        ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
    )]
    async fn in_dynamodb_reads_as_a_corrupt_item() {
        let Some((store, raw, table)) = super::unready_dynamo_table("unparsable") else {
            return;
        };
        store
            .ensure_table()
            .await
            .expect("creating a table in DynamoDB Local");
        super::scenarios::unparsable_stored_text_reads_as_a_corrupt_item(
            Arc::new(store),
            async |id: &twofa::ids::UserId, attribute: &str, text: &str| {
                use aws_sdk_dynamodb::types::AttributeValue::S;
                raw.update_item()
                    .table_name(&table)
                    .key("pk", S(format!("USER#{id}")))
                    .key("sk", S("USER".into()))
                    .update_expression("SET #a = :t")
                    .expression_attribute_names("#a", attribute)
                    .expression_attribute_values(":t", S(text.into()))
                    .send()
                    .await
                    .expect("a hand edit of the user item");
            },
        )
        .await
    }
}

// An unknown email's events are read by no route, so each store is read its own
// way; the scenario is instantiated here rather than by `suite!`.
mod unknown_email_events {
    use std::sync::Arc;

    use twofa::store::memory::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn in_memory_are_kept_under_the_emails_key_and_in_no_list() {
        let store = Arc::new(MemoryStore::new());
        let kept = store.clone();
        super::scenarios::an_unknown_emails_events_are_kept_under_its_key_and_in_no_list(
            store,
            async |key: &str| {
                kept.unknown_events(key)
                    .iter()
                    .map(|e| e.event_type.as_str().to_string())
                    .collect()
            },
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        no_dynamodb,
        ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
    )]
    async fn in_dynamodb_are_kept_under_the_emails_key_and_in_no_list() {
        let Some((store, raw, table)) = super::unready_dynamo_table("unknown-events") else {
            return;
        };
        store
            .ensure_table()
            .await
            .expect("creating a table in DynamoDB Local");
        super::scenarios::an_unknown_emails_events_are_kept_under_its_key_and_in_no_list(
            Arc::new(store),
            async |key: &str| {
                use aws_sdk_dynamodb::types::AttributeValue::S;
                let items = raw
                    .query()
                    .table_name(&table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :event)")
                    .expression_attribute_values(":pk", S(format!("GUESS#{key}")))
                    .expression_attribute_values(":event", S("EVENT#".into()))
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("a query of the email's partition")
                    .items
                    .unwrap_or_default();
                items
                    .iter()
                    .map(|i| {
                        for absent in ["side_pk", "side_sk", "user_id", "scope"] {
                            assert!(!i.contains_key(absent), "{absent} on {i:?}");
                        }
                        assert!(i.contains_key("expires_at"), "no TTL on {i:?}");
                        i.get("type")
                            .and_then(|t| t.as_s().ok())
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect()
            },
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ensuring_the_table_from_several_starts_at_once_and_again_later_is_harmless() {
    let Some(store) = unready_dynamo_store("ensure") else {
        return;
    };
    let (a, b) = tokio::join!(store.ensure_table(), store.ensure_table());
    a.expect("the first of two concurrent ensure_table calls");
    b.expect("the second of two concurrent ensure_table calls");
    store
        .ensure_table()
        .await
        .expect("ensure_table on an existing table");
    let store: Shared = Arc::new(store);
    store
        .set_host_settings(&TwoFactorSettings::default())
        .await
        .expect("the ensured table takes writes");
    assert_eq!(
        store.host_settings().await.unwrap(),
        Some(TwoFactorSettings::default())
    );
}

fn user(scope: Side, email: &str) -> User {
    User {
        id: uuid::Uuid::new_v4().to_string().into(),
        side: scope,
        email: twofa::testing::test_email(email),
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
        second_factor_lost: false,
        passkeys: Vec::new(),
    }
}

fn tenant(name: &str) -> Tenant {
    Tenant {
        name: name.to_string(),
        feature: Behaviour::Optional,
        settings: TwoFactorSettings::default(),
        created_at: NOW,
        lockout: None,
        host_lockout: None,
    }
}

fn acme() -> Side {
    Side::Tenant("acme".to_string())
}

async fn stored(store: &Shared, id: &UserId) -> User {
    store
        .user(id)
        .await
        .expect("reading a user")
        .expect("the user exists")
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

/// Takes a slot for a fresh attempt with room for many.
async fn slot(store: &Shared, id: &UserId) -> Result<Slot, StoreError> {
    store
        .take_slot(
            Subject::User(id),
            &AttemptId::from(uuid::Uuid::new_v4().to_string()),
            None,
            100,
            NOW,
        )
        .await
}

fn count(slot: &Slot) -> u32 {
    match slot {
        Slot::Taken { count, .. } => *count,
        other => panic!("expected a slot, got {other:?}"),
    }
}

/// A success for a fresh attempt.
async fn succeed(
    store: &Shared,
    id: &UserId,
    sid: Option<&SignInId>,
    spend: Spend<'_>,
) -> Result<Succeeded, StoreError> {
    let attempt = AttemptId::from(uuid::Uuid::new_v4().to_string());
    store
        .succeed(
            id,
            &Success {
                attempt: &attempt,
                sid,
                spend,
                patch: &UserPatch::default(),
                release_only: false,
                authenticator: None,
            },
            NOW,
        )
        .await
}

/// Every page of a list, following `next` until it is `None`; also the size of each page.
async fn all_pages<T, F, Fut>(fetch: F) -> (Vec<T>, Vec<usize>)
where
    F: Fn(Option<PageKey>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let (mut items, mut sizes, mut after) = (Vec::new(), Vec::new(), None);
    for _ in 0..100 {
        let page = fetch(after).await.expect("a page");
        sizes.push(page.items.len());
        items.extend(page.items);
        match page.next {
            Some(k) => after = Some(k),
            None => return (items, sizes),
        }
    }
    panic!("a list that never ends");
}

fn trues(results: &[Result<bool, StoreError>]) -> usize {
    results
        .iter()
        .map(|r| r.as_ref().expect("no store error under concurrency"))
        .filter(|b| **b)
        .count()
}

fn done(results: &[Result<Succeeded, StoreError>]) -> usize {
    results
        .iter()
        .map(|r| r.as_ref().expect("no store error under concurrency"))
        .filter(|r| **r == Succeeded::Done)
        .count()
}

mod scenarios {
    use super::*;

    pub async fn a_created_user_is_found_by_id_and_by_email_in_its_scope_only(store: Shared) {
        let mut u = user(acme(), "Jo@Example.com");
        u.phone_number = Some(twofa::testing::test_phone("+15555550100"));
        u.roles = vec![Role::TenantAdmin];
        u.authenticator = Some(Authenticator {
            sealed_key: "sealed".into(),
            enabled: false,
        });
        u.recovery_codes = vec!["h1".into(), "h2".into()];
        store.create_user(&u).await.unwrap();

        assert_eq!(store.user(&u.id).await.unwrap(), Some(u.clone()));
        assert_eq!(
            store
                .user_by_email(&acme(), "jo@example.com")
                .await
                .unwrap(),
            Some(u.clone())
        );
        assert_eq!(
            store
                .user_by_email(&Side::Host, "jo@example.com")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .user_by_email(&Side::Tenant("other".into()), "jo@example.com")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.user(&UserId::from("no-such-user")).await.unwrap(),
            None
        );
    }

    /// Text in a user's email or phone_number attribute that no longer parses (a
    /// hand edit of the table, a rule since tightened) is a corrupt item on every read
    /// that returns the user: never a panic, never a default a handler would take for
    /// the user's own. The error names the attribute, not the text, which is personal.
    pub async fn unparsable_stored_text_reads_as_a_corrupt_item(
        store: Shared,
        plant: impl AsyncFn(&UserId, &str, &str),
    ) {
        let corrupt = |r: Result<_, StoreError>, attribute: &str| match r {
            Err(StoreError::Corrupt(m)) => {
                assert!(m.contains(attribute), "{m}");
                assert!(!m.contains("not-an-address") && !m.contains("0100"), "{m}");
            }
            other => panic!("{attribute}: {other:?}"),
        };
        let jo = user(acme(), "jo@example.com");
        let al = user(acme(), "al@example.com");
        store.create_user(&jo).await.unwrap();
        store.create_user(&al).await.unwrap();
        plant(&jo.id, "email", "not-an-address").await;
        corrupt(store.user(&jo.id).await.map(|_| ()), "email");
        corrupt(
            store
                .user_by_email(&acme(), "jo@example.com")
                .await
                .map(|_| ()),
            "email",
        );
        corrupt(
            store.users_in(&acme(), "", None, 10).await.map(|_| ()),
            "email",
        );
        assert_eq!(
            stored(&store, &al.id).await,
            al,
            "another user stays readable"
        );

        let mut ann = user(Side::Host, "ann@example.com");
        ann.phone_number = Some(twofa::testing::test_phone("+15555550100"));
        store.create_user(&ann).await.unwrap();
        plant(&ann.id, "phone_number", "555-0100").await;
        corrupt(store.user(&ann.id).await.map(|_| ()), "phone_number");
        corrupt(slot(&store, &ann.id).await.map(|_| ()), "phone_number");

        // A write of the number replaces the text, and the user reads again.
        let number = twofa::testing::test_phone("+15555550101");
        store
            .update_user(
                &ann.id,
                &UserPatch {
                    phone_number: Some(Some(number.clone())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(stored(&store, &ann.id).await.phone_number, Some(number));
    }

    pub async fn an_email_is_unique_in_its_scope_regardless_of_case_but_free_in_another(
        store: Shared,
    ) {
        let first = user(acme(), "jo@example.com");
        store.create_user(&first).await.unwrap();

        let again = user(acme(), "JO@Example.COM");
        assert!(matches!(
            store.create_user(&again).await,
            Err(StoreError::Conflict("email"))
        ));
        assert_eq!(
            store.user(&again.id).await.unwrap(),
            None,
            "a refused user must not be half-stored"
        );

        let elsewhere = user(Side::Tenant("globex".into()), "jo@example.com");
        store.create_user(&elsewhere).await.unwrap();
        let host = user(Side::Host, "jo@example.com");
        store.create_user(&host).await.unwrap();
        assert_eq!(
            store
                .user_by_email(&acme(), "jo@example.com")
                .await
                .unwrap()
                .map(|u| u.id),
            Some(first.id)
        );
        assert_eq!(
            store
                .user_by_email(&Side::Host, "jo@example.com")
                .await
                .unwrap()
                .map(|u| u.id),
            Some(host.id)
        );
    }

    pub async fn a_tenant_name_is_unique_regardless_of_case_and_its_admin_is_created_with_it(
        store: Shared,
    ) {
        let mut admin = user(acme(), "admin@acme.test");
        admin.roles = vec![Role::TenantAdmin];
        store.create_tenant(&tenant("Acme"), &admin).await.unwrap();

        assert_eq!(store.tenant("acme").await.unwrap(), Some(tenant("Acme")));
        assert_eq!(
            store
                .user_by_email(&acme(), "admin@acme.test")
                .await
                .unwrap(),
            Some(admin)
        );

        let other_admin = user(acme(), "boss@acme.test");
        assert!(matches!(
            store.create_tenant(&tenant("ACME"), &other_admin).await,
            Err(StoreError::Conflict("tenant"))
        ));
        assert_eq!(
            store.user(&other_admin.id).await.unwrap(),
            None,
            "the refused tenant's admin must not exist"
        );
        assert_eq!(
            store.tenant("acme").await.unwrap().map(|t| t.name),
            Some("Acme".to_string())
        );
        assert_eq!(store.tenant("globex").await.unwrap(), None);
    }

    pub async fn host_settings_are_absent_until_saved_and_then_replaced_whole(store: Shared) {
        assert_eq!(store.host_settings().await.unwrap(), None);
        let forced = TwoFactorSettings {
            behaviour: Behaviour::Forced,
            allowed_providers: vec![Provider::Authenticator],
            ..Default::default()
        };
        store.set_host_settings(&forced).await.unwrap();
        assert_eq!(store.host_settings().await.unwrap(), Some(forced));
        let open = TwoFactorSettings {
            users_can_change: false,
            remember_browser: false,
            allowed_providers: vec![],
            ..Default::default()
        };
        store.set_host_settings(&open).await.unwrap();
        assert_eq!(store.host_settings().await.unwrap(), Some(open));
    }

    pub async fn tenant_feature_and_settings_change_separately_and_only_for_an_existing_tenant(
        store: Shared,
    ) {
        store
            .create_tenant(&tenant("Acme"), &user(acme(), "admin@acme.test"))
            .await
            .unwrap();
        let settings = TwoFactorSettings {
            behaviour: Behaviour::Disabled,
            allowed_providers: vec![Provider::Email, Provider::Sms],
            ..Default::default()
        };

        store
            .set_tenant_feature("acme", Behaviour::Forced, None)
            .await
            .unwrap();
        store.set_tenant_settings("acme", &settings).await.unwrap();
        let t = store.tenant("acme").await.unwrap().unwrap();
        assert_eq!(
            (t.feature, t.settings, t.name),
            (Behaviour::Forced, settings.clone(), "Acme".to_string())
        );

        store
            .set_tenant_feature("acme", Behaviour::Disabled, None)
            .await
            .unwrap();
        assert_eq!(
            store.tenant("acme").await.unwrap().unwrap().settings,
            settings,
            "the feature write kept the settings"
        );

        assert!(matches!(
            store
                .set_tenant_feature("globex", Behaviour::Forced, None)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.set_tenant_settings("globex", &settings).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.tenant("globex").await.unwrap(),
            None,
            "a refused write must not create the tenant"
        );
    }

    pub async fn two_admins_changing_different_settings_at_once_both_keep_their_change(
        store: Shared,
    ) {
        store
            .create_tenant(&tenant("Acme"), &user(acme(), "admin@acme.test"))
            .await
            .unwrap();
        for scope in [Side::Host, acme()] {
            // Both read the defaults (the host item does not even exist yet), then write at once.
            let read = TwoFactorSettings::default();
            let no_sms = TwoFactorSettings {
                allowed_providers: vec![Provider::Authenticator, Provider::Email],
                ..read.clone()
            };
            let no_remember = TwoFactorSettings {
                remember_browser: false,
                ..read.clone()
            };
            let forced = TwoFactorSettings {
                behaviour: Behaviour::Forced,
                ..read.clone()
            };
            let changes = [no_sms, no_remember, forced];
            let results = at_once(3, |i| {
                let (store, scope, read, to) = (
                    store.clone(),
                    scope.clone(),
                    read.clone(),
                    changes[i].clone(),
                );
                async move { store.change_settings(&scope, &read, &to, None).await }
            })
            .await;
            assert!(results.iter().all(Result::is_ok), "{scope:?}: {results:?}");
            let after = match &scope {
                Side::Host => store.host_settings().await.unwrap().unwrap(),
                Side::Tenant(k) => store.tenant(k).await.unwrap().unwrap().settings,
            };
            let expected = TwoFactorSettings {
                behaviour: Behaviour::Forced,
                users_can_change: true,
                remember_browser: false,
                allowed_providers: vec![Provider::Authenticator, Provider::Email],
            };
            assert_eq!(after, expected, "{scope:?}: every change survived");
        }
    }

    pub async fn a_settings_change_decided_on_a_value_that_moved_is_refused_and_writes_nothing(
        store: Shared,
    ) {
        let read = TwoFactorSettings::default();
        assert_eq!(
            store
                .change_settings(&Side::Host, &read, &read, None)
                .await
                .unwrap(),
            read,
            "no change to unsaved settings: the defaults"
        );
        let sms_only = TwoFactorSettings {
            allowed_providers: vec![Provider::Sms],
            ..read.clone()
        };
        assert_eq!(
            store
                .change_settings(&Side::Host, &read, &sms_only, None)
                .await
                .unwrap(),
            sms_only
        );
        // A second admin read the defaults too and changes the same field.
        let email_only = TwoFactorSettings {
            allowed_providers: vec![Provider::Email],
            remember_browser: false,
            ..read.clone()
        };
        assert!(matches!(
            store
                .change_settings(&Side::Host, &read, &email_only, None)
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.host_settings().await.unwrap(),
            Some(sms_only.clone()),
            "nothing of the refused change was written"
        );
        let unchanged = store
            .change_settings(&Side::Host, &sms_only, &sms_only, None)
            .await
            .unwrap();
        assert_eq!(unchanged, sms_only);
        let unknown = Side::Tenant("globex".into());
        assert!(matches!(
            store
                .change_settings(&unknown, &read, &sms_only, None)
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.tenant("globex").await.unwrap(),
            None,
            "a refused write must not create the tenant"
        );
    }

    /// A request authenticated under `stamp-1` and still in flight when a sign-out
    /// everywhere wrote a new stamp: each of the writes that hand a token out refuses
    /// it and changes nothing; under the current stamp each goes through, and the same
    /// write again (an SDK retry of a write whose answer was lost) is its own success.
    pub async fn a_write_made_under_a_stamp_changes_nothing_once_the_stamp_changed(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let pending = Authenticator {
            sealed_key: "k1".into(),
            enabled: false,
        };
        store
            .update_user(
                &u.id,
                &UserPatch {
                    authenticator: Some(Some(pending.clone())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let turn_on = |stamp: &str| {
            UserPatch {
                two_factor_enabled: Some(true),
                ..Default::default()
            }
            .rotating_stamp()
            .under_stamp(stamp)
        };
        let enable = |stamp: &str| {
            UserPatch {
                authenticator: Some(Some(Authenticator {
                    enabled: true,
                    ..pending.clone()
                })),
                ..Default::default()
            }
            .rotating_stamp()
            .under_stamp(stamp)
        };
        let sign_out = UserPatch::default().rotating_stamp();
        store.update_user(&u.id, &sign_out).await.unwrap();
        let signed_out = stored(&store, &u.id).await;
        assert_eq!(
            Some(&signed_out.security_stamp),
            sign_out.security_stamp.as_ref()
        );

        assert!(matches!(
            store.update_user(&u.id, &turn_on("stamp-1")).await,
            Err(StoreError::Conflict(STAMP))
        ));
        assert!(
            !store
                .update_user_if_authenticator(&u.id, Some(&pending), &enable("stamp-1"))
                .await
                .unwrap()
        );
        let slot = slot(&store, &u.id).await.unwrap();
        let attempt = AttemptId::from(uuid::Uuid::new_v4().to_string());
        let patch = enable("stamp-1");
        let success = Success {
            attempt: &attempt,
            sid: None,
            spend: Spend::TotpStep(7),
            patch: &patch,
            release_only: false,
            authenticator: Some(&pending),
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Ended
        );
        let after = stored(&store, &u.id).await;
        assert_eq!(
            after,
            User {
                failed_count: count(&slot),
                ..signed_out.clone()
            },
            "a refused write changed nothing"
        );

        // Under the stamp that is current, each goes through, once.
        let current = after.security_stamp.clone();
        let on = turn_on(&current);
        store.update_user(&u.id, &on).await.unwrap();
        store
            .update_user(&u.id, &on)
            .await
            .expect("a retry of the same write is its own");
        let after = stored(&store, &u.id).await;
        assert!(after.two_factor_enabled);
        assert_eq!(Some(&after.security_stamp), on.security_stamp.as_ref());
        let patch = enable(&after.security_stamp);
        let success = Success {
            patch: &patch,
            ..success
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Done
        );
        assert!(stored(&store, &u.id).await.authenticator_enabled());
        assert!(matches!(
            store
                .update_user(&UserId::from("nobody"), &turn_on("stamp-1"))
                .await,
            Err(StoreError::NotFound)
        ));
    }

    /// Many requests authenticated under the old stamp each rotate it (and would hand
    /// back a token under their new one) while a sign-out everywhere lands among them:
    /// at most one of them is written, and the stamp left is the sign-out's.
    pub async fn a_sign_out_racing_rotations_made_under_the_old_stamp_always_has_the_last_word(
        store: Shared,
    ) {
        for round in 0..5 {
            let u = user(Side::Host, &format!("jo{round}@example.com"));
            store.create_user(&u).await.unwrap();
            let sign_out = UserPatch::default().rotating_stamp();
            let sign_out_stamp = sign_out.security_stamp.clone();
            let results = at_once(9, |i| {
                let (store, id) = (store.clone(), u.id.clone());
                let patch = if i == 4 {
                    sign_out.clone()
                } else {
                    UserPatch {
                        two_factor_enabled: Some(true),
                        ..Default::default()
                    }
                    .rotating_stamp()
                    .under_stamp("stamp-1")
                };
                async move { store.update_user(&id, &patch).await }
            })
            .await;
            assert!(
                results[4].is_ok(),
                "the sign-out is written whatever is in flight"
            );
            let written = results
                .iter()
                .enumerate()
                .filter(|(i, r)| *i != 4 && r.is_ok())
                .count();
            assert!(
                written <= 1,
                "round {round}: {written} rotations under one stamp"
            );
            assert!(
                results
                    .iter()
                    .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(STAMP)))),
                "round {round}: {results:?}"
            );
            assert_eq!(
                Some(stored(&store, &u.id).await.security_stamp),
                sign_out_stamp,
                "round {round}: a rotation in flight outran the sign-out"
            );
        }
    }

    pub async fn an_authenticator_write_applies_only_while_the_authenticator_is_what_was_read(
        store: Shared,
    ) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let pending = Authenticator {
            sealed_key: "k1".into(),
            enabled: false,
        };
        let enabled = Authenticator {
            sealed_key: "k1".into(),
            enabled: true,
        };
        let set = |a: Option<Authenticator>| UserPatch {
            authenticator: Some(a),
            ..Default::default()
        };

        assert!(
            store
                .update_user_if_authenticator(&u.id, None, &set(Some(pending.clone())))
                .await
                .unwrap()
        );
        assert!(
            !store
                .update_user_if_authenticator(&u.id, None, &set(Some(pending.clone())))
                .await
                .unwrap(),
            "one is there now"
        );
        assert!(
            store
                .update_user_if_authenticator(&u.id, Some(&pending), &set(Some(enabled.clone())))
                .await
                .unwrap()
        );
        // A remove that read "pending" (and so skipped step-up) must not remove the one enabled since.
        assert!(
            !store
                .update_user_if_authenticator(&u.id, Some(&pending), &set(None))
                .await
                .unwrap()
        );
        assert_eq!(
            stored(&store, &u.id).await.authenticator,
            Some(enabled.clone())
        );
        assert!(
            store
                .update_user_if_authenticator(&u.id, Some(&enabled), &set(None))
                .await
                .unwrap()
        );
        assert_eq!(stored(&store, &u.id).await.authenticator, None);
        assert!(
            !store
                .update_user_if_authenticator(&UserId::from("nobody"), None, &set(None))
                .await
                .unwrap()
        );
    }

    pub async fn a_success_enabling_an_authenticator_is_refused_once_the_pending_one_changed(
        store: Shared,
    ) {
        // Enrolment verify checks a code against the pending key it read; a new
        // enrolment (another key) or a remove meanwhile must not be overwritten.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let first = Authenticator {
            sealed_key: "k1".into(),
            enabled: false,
        };
        let second = Authenticator {
            sealed_key: "k2".into(),
            enabled: false,
        };
        store
            .update_user(
                &u.id,
                &UserPatch {
                    authenticator: Some(Some(second.clone())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let enable = UserPatch {
            authenticator: Some(Some(Authenticator {
                enabled: true,
                ..first.clone()
            })),
            ..Default::default()
        };
        let slot = store
            .take_slot(Subject::User(&u.id), &AttemptId::from("a-1"), None, 5, NOW)
            .await
            .unwrap();
        assert_eq!(count(&slot), 1);
        let success = Success {
            attempt: &AttemptId::from("a-1"),
            sid: None,
            spend: Spend::TotpStep(7),
            patch: &enable,
            release_only: false,
            authenticator: Some(&first),
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Changed
        );
        let after = stored(&store, &u.id).await;
        assert_eq!(
            (after.authenticator, after.totp_last_step),
            (Some(second.clone()), None),
            "nothing of the refused write"
        );

        let enable = UserPatch {
            authenticator: Some(Some(Authenticator {
                enabled: true,
                ..second.clone()
            })),
            ..Default::default()
        };
        let success = Success {
            attempt: &AttemptId::from("a-2"),
            patch: &enable,
            authenticator: Some(&second),
            ..success
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Done,
            "the pending one it was checked against"
        );
        assert_eq!(
            stored(&store, &u.id).await.authenticator,
            Some(Authenticator {
                enabled: true,
                ..second
            })
        );
    }

    pub async fn a_patch_changes_only_the_fields_it_names(store: Shared) {
        let mut u = user(Side::Host, "jo@example.com");
        u.phone_number = Some(twofa::testing::test_phone("+15555550100"));
        u.authenticator = Some(Authenticator {
            sealed_key: "sealed".into(),
            enabled: true,
        });
        u.recovery_codes = vec!["h1".into()];
        store.create_user(&u).await.unwrap();
        slot(&store, &u.id).await.unwrap();

        let patch = UserPatch {
            two_factor_enabled: Some(true),
            phone_number: Some(None),
            pending_sign_in: Some(Some("sid".into())),
            ..Default::default()
        };
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

        let restore = UserPatch {
            recovery_codes: Some(vec!["h2".into(), "h3".into()]),
            phone_number: Some(Some(twofa::testing::test_phone("+15555550101"))),
            ..Default::default()
        };
        store.update_user(&u.id, &restore).await.unwrap();
        restore.apply(&mut expected);
        assert_eq!(stored(&store, &u.id).await, expected);

        assert!(matches!(
            store
                .update_user(&UserId::from("no-such-user"), &patch)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .update_user(&UserId::from("no-such-user"), &UserPatch::default())
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.user(&UserId::from("no-such-user")).await.unwrap(),
            None,
            "a refused patch must not create a user"
        );
    }

    pub async fn patches_running_beside_failures_lose_no_failure(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let results = at_once(20, |i| {
            let (store, id) = (store.clone(), u.id.clone());
            async move {
                if i % 2 == 0 {
                    slot(&store, &id).await.map(|_| ())
                } else {
                    store
                        .update_user(
                            &id,
                            &UserPatch {
                                two_factor_enabled: Some(true),
                                security_stamp: Some(format!("s{i}")),
                                ..Default::default()
                            },
                        )
                        .await
                }
            }
        })
        .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let after = stored(&store, &u.id).await;
        assert_eq!(after.failed_count, 10);
        assert!(after.two_factor_enabled);
    }

    pub async fn twenty_concurrent_slots_are_counted_one_to_twenty(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let mut counts: Vec<u32> = at_once(20, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { slot(&store, &id).await }
        })
        .await
        .iter()
        .map(|r| count(r.as_ref().expect("no store error")))
        .collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=20).collect::<Vec<u32>>());
        assert!(matches!(
            slot(&store, &UserId::from("no-such-user")).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.user(&UserId::from("no-such-user")).await.unwrap(),
            None,
            "a refused slot must not create a user"
        );
    }

    pub async fn slots_run_out_at_the_limit_before_anything_is_judged(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let results = at_once(20, |i| {
            let (store, id) = (store.clone(), u.id.clone());
            async move {
                store
                    .take_slot(
                        Subject::User(&id),
                        &AttemptId::from(format!("attempt-{i}")),
                        None,
                        5,
                        NOW,
                    )
                    .await
            }
        })
        .await;
        let taken = results
            .iter()
            .filter(|r| matches!(r, Ok(Slot::Taken { .. })))
            .count();
        let full = results
            .iter()
            .filter(|r| matches!(r, Ok(Slot::Full)))
            .count();
        assert_eq!((taken, full), (5, 15), "{results:?}");
        assert_eq!(stored(&store, &u.id).await.failed_count, 5);
    }

    pub async fn a_locked_account_refuses_slots_until_the_lock_ends(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store
            .update_user(
                &u.id,
                &UserPatch {
                    pending_sign_in: Some(Some("sid".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        slot(&store, &u.id).await.unwrap();
        let until = NOW + 300;

        store
            .lock(Subject::User(&u.id), NOW, until, false)
            .await
            .unwrap();
        let locked = stored(&store, &u.id).await;
        assert_eq!(
            (
                locked.lockout_end,
                locked.failed_count,
                locked.pending_sign_in
            ),
            (Some(until), 0, None)
        );
        store
            .lock(Subject::User(&u.id), NOW + 10, until + 10, false)
            .await
            .unwrap();
        assert_eq!(
            stored(&store, &u.id).await.lockout_end,
            Some(until),
            "a lock does not extend a lock"
        );

        assert_eq!(
            store
                .take_slot(Subject::User(&u.id), &AttemptId::from("a1"), None, 5, NOW)
                .await
                .unwrap(),
            Slot::Locked(until)
        );
        assert_eq!(
            store
                .take_slot(
                    Subject::User(&u.id),
                    &AttemptId::from("a2"),
                    None,
                    5,
                    until - 1
                )
                .await
                .unwrap(),
            Slot::Locked(until)
        );
        assert_eq!(
            stored(&store, &u.id).await.failed_count,
            0,
            "refused attempts are not counted"
        );
        assert_eq!(
            store
                .take_slot(
                    Subject::User(&u.id),
                    &AttemptId::from("a3"),
                    Some(&SignInId::from("sid")),
                    5,
                    until
                )
                .await
                .unwrap(),
            Slot::Ended,
            "a lock ends the sign-in in progress"
        );
        assert!(matches!(
            store
                .take_slot(Subject::User(&u.id), &AttemptId::from("a4"), None, 5, until)
                .await
                .unwrap(),
            Slot::Taken { count: 1, .. }
        ));
        assert!(matches!(
            store
                .lock(
                    Subject::User(&UserId::from("no-such-user")),
                    NOW,
                    until,
                    false
                )
                .await,
            Err(StoreError::NotFound)
        ));
    }

    pub async fn a_success_is_refused_once_the_account_locked_while_it_was_judged(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store
            .update_user(
                &u.id,
                &UserPatch {
                    pending_sign_in: Some(Some("sid".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        slot(&store, &u.id).await.unwrap();
        store
            .lock(Subject::User(&u.id), NOW, NOW + 300, false)
            .await
            .unwrap();
        assert_eq!(
            succeed(&store, &u.id, None, Spend::Nothing).await.unwrap(),
            Succeeded::Locked(NOW + 300)
        );
        assert_eq!(stored(&store, &u.id).await.lockout_end, Some(NOW + 300));
    }

    pub async fn a_sign_in_completes_exactly_once_under_concurrency(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store
            .update_user(
                &u.id,
                &UserPatch {
                    pending_sign_in: Some(Some("sid-1".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        slot(&store, &u.id).await.unwrap();

        assert_eq!(
            succeed(
                &store,
                &u.id,
                Some(&SignInId::from("sid-other")),
                Spend::Nothing
            )
            .await
            .unwrap(),
            Succeeded::Ended
        );
        let results =
            at_once(10, |_| {
                let (store, id) = (store.clone(), u.id.clone());
                async move {
                    succeed(&store, &id, Some(&SignInId::from("sid-1")), Spend::Nothing).await
                }
            })
            .await;
        assert_eq!(done(&results), 1);
        let after = stored(&store, &u.id).await;
        assert_eq!((after.pending_sign_in, after.failed_count), (None, 0));
        assert_eq!(
            succeed(
                &store,
                &u.id,
                Some(&SignInId::from("sid-1")),
                Spend::Nothing
            )
            .await
            .unwrap(),
            Succeeded::Ended
        );
        assert!(matches!(
            succeed(
                &store,
                &UserId::from("no-such-user"),
                Some(&SignInId::from("sid-1")),
                Spend::Nothing
            )
            .await,
            Err(StoreError::NotFound)
        ));
    }

    pub async fn a_totp_step_is_accepted_once_and_never_an_older_one(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();

        assert_eq!(
            succeed(&store, &u.id, None, Spend::TotpStep(100))
                .await
                .unwrap(),
            Succeeded::Done
        );
        assert_eq!(
            succeed(&store, &u.id, None, Spend::TotpStep(100))
                .await
                .unwrap(),
            Succeeded::Spent,
            "the same step twice"
        );
        assert_eq!(
            succeed(&store, &u.id, None, Spend::TotpStep(99))
                .await
                .unwrap(),
            Succeeded::Spent,
            "an older step"
        );
        assert_eq!(
            succeed(&store, &u.id, None, Spend::TotpStep(101))
                .await
                .unwrap(),
            Succeeded::Done
        );

        let results = at_once(10, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { succeed(&store, &id, None, Spend::TotpStep(200)).await }
        })
        .await;
        assert_eq!(done(&results), 1);
        assert_eq!(stored(&store, &u.id).await.totp_last_step, Some(200));
        assert!(matches!(
            succeed(
                &store,
                &UserId::from("no-such-user"),
                None,
                Spend::TotpStep(300)
            )
            .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.user(&UserId::from("no-such-user")).await.unwrap(),
            None
        );
    }

    pub async fn a_recovery_code_is_consumed_exactly_once_under_concurrency(store: Shared) {
        let mut u = user(Side::Host, "jo@example.com");
        u.recovery_codes = vec!["h-a".into(), "h-b".into(), "h-c".into()];
        store.create_user(&u).await.unwrap();

        let results = at_once(10, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move { succeed(&store, &id, None, Spend::RecoveryCode("h-b")).await }
        })
        .await;
        assert_eq!(done(&results), 1);
        assert_eq!(
            stored(&store, &u.id).await.recovery_codes,
            vec!["h-a".to_string(), "h-c".to_string()]
        );
        assert_eq!(
            succeed(&store, &u.id, None, Spend::RecoveryCode("h-unknown"))
                .await
                .unwrap(),
            Succeeded::Spent
        );

        assert_eq!(
            succeed(&store, &u.id, None, Spend::RecoveryCode("h-a"))
                .await
                .unwrap(),
            Succeeded::Done
        );
        assert_eq!(
            succeed(&store, &u.id, None, Spend::RecoveryCode("h-c"))
                .await
                .unwrap(),
            Succeeded::Done
        );
        assert!(stored(&store, &u.id).await.recovery_codes.is_empty());
        assert_eq!(
            succeed(&store, &u.id, None, Spend::RecoveryCode("h-c"))
                .await
                .unwrap(),
            Succeeded::Spent
        );
    }

    pub async fn a_sent_code_is_spent_with_its_sign_in_in_one_write(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store
            .update_user(
                &u.id,
                &UserPatch {
                    pending_sign_in: Some(Some("sid".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        store
            .put_code(&code(&u.id, CodePurpose::SignInSms, "hash-1"))
            .await
            .unwrap();
        slot(&store, &u.id).await.unwrap();

        let wrong = succeed(
            &store,
            &u.id,
            Some(&SignInId::from("sid")),
            Spend::Code(CodePurpose::SignInSms, "hash-other"),
        )
        .await
        .unwrap();
        assert_eq!(wrong, Succeeded::Spent);
        assert_eq!(
            stored(&store, &u.id).await.pending_sign_in.as_deref(),
            Some("sid"),
            "a refused code changes nothing"
        );
        assert_eq!(stored(&store, &u.id).await.failed_count, 1);

        let results = at_once(10, |_| {
            let (store, id) = (store.clone(), u.id.clone());
            async move {
                succeed(
                    &store,
                    &id,
                    Some(&SignInId::from("sid")),
                    Spend::Code(CodePurpose::SignInSms, "hash-1"),
                )
                .await
            }
        })
        .await;
        assert_eq!(done(&results), 1);
        let after = stored(&store, &u.id).await;
        assert_eq!((after.pending_sign_in, after.failed_count), (None, 0));
        assert_eq!(
            store.code(&u.id, CodePurpose::SignInSms).await.unwrap(),
            None,
            "the code is spent"
        );

        // A confirmation: no sign-in, the code and the confirmed address in one write.
        store
            .put_code(&code(&u.id, CodePurpose::ConfirmEmail, "hash-2"))
            .await
            .unwrap();
        let confirm = UserPatch {
            email_confirmed: Some(true),
            ..Default::default()
        };
        // Attempt ids are random: DynamoDB keeps a transaction's client token account-wide for 10 minutes.
        let attempt = AttemptId::from(uuid::Uuid::new_v4().to_string());
        let success = Success {
            attempt: &attempt,
            sid: None,
            spend: Spend::Code(CodePurpose::ConfirmEmail, "hash-2"),
            patch: &confirm,
            release_only: false,
            authenticator: None,
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Done
        );
        assert!(stored(&store, &u.id).await.email_confirmed);
        assert_eq!(
            store.code(&u.id, CodePurpose::ConfirmEmail).await.unwrap(),
            None
        );
    }

    pub async fn a_right_password_before_a_second_factor_gives_its_slot_back_and_keeps_earlier_failures(
        store: Shared,
    ) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        slot(&store, &u.id).await.unwrap();
        slot(&store, &u.id).await.unwrap();
        // The right password's own slot, the one it gives back.
        let taken = store
            .take_slot(
                Subject::User(&u.id),
                &AttemptId::from("pwd-ok"),
                None,
                100,
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(count(&taken), 3);
        let start = UserPatch {
            pending_sign_in: Some(Some("sid-2".into())),
            ..Default::default()
        };
        let success = Success {
            attempt: &AttemptId::from("pwd-ok"),
            sid: None,
            spend: Spend::Nothing,
            patch: &start,
            release_only: true,
            authenticator: None,
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Done
        );
        let after = stored(&store, &u.id).await;
        assert_eq!(
            (after.failed_count, after.pending_sign_in.as_deref()),
            (2, Some("sid-2"))
        );
    }

    pub async fn a_retried_give_back_gives_the_slot_back_once(store: Shared) {
        // Two wrong passwords, then a right one whose give-back is sent twice (the SDK
        // retrying a write whose answer was lost): the two failures stay counted.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        slot(&store, &u.id).await.unwrap();
        slot(&store, &u.id).await.unwrap();
        store
            .take_slot(
                Subject::User(&u.id),
                &AttemptId::from("pwd-ok"),
                None,
                100,
                NOW,
            )
            .await
            .unwrap();
        let start = UserPatch {
            pending_sign_in: Some(Some("sid".into())),
            ..Default::default()
        };
        let success = Success {
            attempt: &AttemptId::from("pwd-ok"),
            sid: None,
            spend: Spend::Nothing,
            patch: &start,
            release_only: true,
            authenticator: None,
        };
        for _ in 0..2 {
            assert_eq!(
                store.succeed(&u.id, &success, NOW).await.unwrap(),
                Succeeded::Done
            );
        }
        assert_eq!(stored(&store, &u.id).await.failed_count, 2);
        assert!(matches!(
            slot(&store, &u.id).await.unwrap(),
            Slot::Taken {
                count: 3,
                streak: 3,
                ..
            }
        ));
    }

    pub async fn a_slot_given_back_after_a_lock_reset_the_count_leaves_the_user_readable(
        store: Shared,
    ) {
        // A right password judged while other attempts locked the account (which resets
        // the count) and the lock ended (LOCKOUT_DURATION_SECONDS may be 1; a slow store
        // or Argon2 on a small Lambda takes that long) gives back a slot that is no longer
        // counted. The count must not go below zero: DynamoDB would store -1, which no
        // longer reads as a user, and every route that reads the user would answer 500.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        assert_eq!(count(&slot(&store, &u.id).await.unwrap()), 1);
        store
            .lock(Subject::User(&u.id), NOW, NOW + 1, false)
            .await
            .unwrap();
        let start = UserPatch {
            pending_sign_in: Some(Some("sid".into())),
            ..Default::default()
        };
        let success = Success {
            attempt: &AttemptId::from("pwd-ok"),
            sid: None,
            spend: Spend::Nothing,
            patch: &start,
            authenticator: None,
            release_only: true,
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW + 2).await.unwrap(),
            Succeeded::Done
        );
        let after = store
            .user(&u.id)
            .await
            .expect("the user still reads after a slot is given back")
            .expect("the user exists");
        assert_eq!(after.failed_count, 0);
        assert!(matches!(
            store
                .take_slot(
                    Subject::User(&u.id),
                    &AttemptId::from("next"),
                    None,
                    5,
                    NOW + 2
                )
                .await
                .unwrap(),
            Slot::Taken {
                count: 1,
                streak: 1,
                ..
            }
        ));
    }

    pub async fn a_slot_given_back_after_the_count_was_reset_leaves_later_failures_counted(
        store: Shared,
    ) {
        // A right password takes its slot; before it gives the slot back, the count is
        // reset (an administrator's unlock, or a lock that has already ended) and a
        // wrong guess is counted. The reset already took the right password's slot
        // off the count: giving it back again would erase the wrong guess.
        for reset in ["unlock", "a lock that ended"] {
            let u = user(Side::Host, &format!("jo-{}@example.com", reset.len()));
            store.create_user(&u).await.unwrap();
            let right = AttemptId::from("pwd-ok");
            store
                .take_slot(Subject::User(&u.id), &right, None, 5, NOW)
                .await
                .unwrap();
            if reset == "unlock" {
                store
                    .unlock(&u.id, &RequestId::random().unwrap(), None, NOW)
                    .await
                    .unwrap();
            } else {
                store
                    .lock(Subject::User(&u.id), NOW, NOW + 1, false)
                    .await
                    .unwrap();
            }
            let wrong = store
                .take_slot(
                    Subject::User(&u.id),
                    &AttemptId::from("wrong"),
                    None,
                    5,
                    NOW + 2,
                )
                .await
                .unwrap();
            assert_eq!(count(&wrong), 1, "{reset}");
            let start = UserPatch {
                pending_sign_in: Some(Some("sid".into())),
                ..Default::default()
            };
            let give_back = Success {
                attempt: &right,
                sid: None,
                spend: Spend::Nothing,
                patch: &start,
                release_only: true,
                authenticator: None,
            };
            assert_eq!(
                store.succeed(&u.id, &give_back, NOW + 2).await.unwrap(),
                Succeeded::Done,
                "{reset}"
            );
            assert_eq!(
                stored(&store, &u.id).await.failed_count,
                1,
                "after {reset}, the wrong guess counted since must stay counted"
            );
        }
    }

    pub async fn two_unlocks_in_the_same_second_are_two_unlocks(store: Shared) {
        // An unlock's retry is known by its client request token; a second unlock by
        // an administrator, the same second, after a guess was counted, is another
        // request and must clear that guess too, not be answered as done unapplied.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        for round in 0..2 {
            slot(&store, &u.id).await.unwrap();
            assert_eq!(
                store
                    .unlock(&u.id, &RequestId::random().unwrap(), None, NOW)
                    .await
                    .unwrap(),
                Unlocked::Done
            );
            assert_eq!(
                stored(&store, &u.id).await.failed_count,
                0,
                "unlock {round}"
            );
        }
    }

    pub async fn a_hard_lock_replaces_a_shorter_lock_and_restarts_the_streak(store: Shared) {
        // The hundredth failure raced by a guess that found every slot held: the short
        // lock lands first, and the 30-day lock must still take effect and restart the
        // streak, or the streak stays at the limit and refuses every attempt for ever.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        slot(&store, &u.id).await.unwrap();
        store
            .lock(Subject::User(&u.id), NOW, NOW + 300, false)
            .await
            .unwrap();
        store
            .lock(Subject::User(&u.id), NOW, NOW + 30 * 86_400, true)
            .await
            .unwrap();
        assert_eq!(
            stored(&store, &u.id).await.lockout_end,
            Some(NOW + 30 * 86_400)
        );
        store
            .lock(Subject::User(&u.id), NOW + 1, NOW + 301, true)
            .await
            .unwrap();
        assert_eq!(
            stored(&store, &u.id).await.lockout_end,
            Some(NOW + 30 * 86_400),
            "no lock shortens a longer one"
        );
        let after = NOW + 30 * 86_400;
        assert!(matches!(
            store
                .take_slot(
                    Subject::User(&u.id),
                    &AttemptId::from("next"),
                    None,
                    5,
                    after
                )
                .await
                .unwrap(),
            Slot::Taken {
                count: 1,
                streak: 1,
                ..
            }
        ));
    }

    pub async fn consecutive_failures_are_bounded_across_lock_periods(store: Shared) {
        // Five failures lock for 300 s, again and again: the streak outlives the locks.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let mut now = NOW;
        let mut failures = 0;
        for round in 0..(HARD_LIMIT / 5 + 1) {
            for i in 0..5 {
                match store
                    .take_slot(
                        Subject::User(&u.id),
                        &AttemptId::from(format!("r{round}-{i}")),
                        None,
                        5,
                        now,
                    )
                    .await
                    .unwrap()
                {
                    Slot::Taken { .. } => failures += 1,
                    Slot::Full | Slot::Exhausted => {}
                    other => panic!("round {round}: {other:?}"),
                }
            }
            store
                .lock(Subject::User(&u.id), now, now + 300, false)
                .await
                .unwrap();
            now += 300;
        }
        assert_eq!(
            failures, HARD_LIMIT,
            "no slot past {HARD_LIMIT} consecutive failures"
        );
        let a = &AttemptId::from("after-success");
        assert_eq!(
            store
                .succeed(
                    &u.id,
                    &Success {
                        attempt: a,
                        sid: None,
                        spend: Spend::Nothing,
                        patch: &UserPatch::default(),
                        release_only: false,
                        authenticator: None
                    },
                    now
                )
                .await
                .unwrap(),
            Succeeded::Done
        );
        assert!(
            matches!(
                store
                    .take_slot(
                        Subject::User(&u.id),
                        &AttemptId::from("fresh"),
                        None,
                        5,
                        now
                    )
                    .await
                    .unwrap(),
                Slot::Taken { streak: 1, .. }
            ),
            "a success restarts the streak"
        );
        store
            .lock(Subject::User(&u.id), now, now + 300, true)
            .await
            .unwrap();
        assert!(
            matches!(
                store
                    .take_slot(
                        Subject::User(&u.id),
                        &AttemptId::from("fresh-2"),
                        None,
                        5,
                        now + 300
                    )
                    .await
                    .unwrap(),
                Slot::Taken { streak: 1, .. }
            ),
            "a hard lock restarts it too"
        );
    }

    pub async fn an_unknown_email_counts_and_locks_like_an_account_and_never_blocks_registering_it(
        store: Shared,
    ) {
        let key = "keyed-hash-of-jo";
        assert!(matches!(
            store
                .take_slot(Subject::Unknown(key), &AttemptId::from("u1"), None, 2, NOW)
                .await
                .unwrap(),
            Slot::Taken {
                user: None,
                count: 1,
                ..
            }
        ));
        assert!(matches!(
            store
                .take_slot(Subject::Unknown(key), &AttemptId::from("u2"), None, 2, NOW)
                .await
                .unwrap(),
            Slot::Taken { count: 2, .. }
        ));
        assert_eq!(
            store
                .take_slot(Subject::Unknown(key), &AttemptId::from("u3"), None, 2, NOW)
                .await
                .unwrap(),
            Slot::Full
        );
        store
            .lock(Subject::Unknown(key), NOW, NOW + 300, false)
            .await
            .unwrap();
        assert_eq!(
            store
                .take_slot(
                    Subject::Unknown(key),
                    &AttemptId::from("u4"),
                    None,
                    2,
                    NOW + 299
                )
                .await
                .unwrap(),
            Slot::Locked(NOW + 300)
        );
        assert!(matches!(
            store
                .take_slot(
                    Subject::Unknown(key),
                    &AttemptId::from("u5"),
                    None,
                    2,
                    NOW + 300
                )
                .await
                .unwrap(),
            Slot::Taken { count: 1, .. }
        ));
        assert!(matches!(
            store
                .take_slot(
                    Subject::Unknown("another"),
                    &AttemptId::from("u6"),
                    None,
                    2,
                    NOW
                )
                .await
                .unwrap(),
            Slot::Taken { count: 1, .. }
        ));

        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        assert_eq!(
            store
                .login_record(&Side::Host, "jo@example.com")
                .await
                .unwrap()
                .map(|r| (r.user_id, r.password_hash)),
            Some((u.id.clone(), Some(u.password_hash.clone())))
        );
        assert_eq!(
            store
                .login_record(&Side::Host, "nobody@example.com")
                .await
                .unwrap(),
            None
        );
    }

    /// An email without an account records its failures as an account does (the same
    /// requests, so a refusal's time tells nothing), but under its keyed hash: beside
    /// its counter, which they leave alone, and in no user's or side's list. `kept`
    /// reads the types of the events stored under a key, oldest first.
    pub async fn an_unknown_emails_events_are_kept_under_its_key_and_in_no_list(
        store: Shared,
        kept: impl AsyncFn(&str) -> Vec<String>,
    ) {
        let origin = Origin {
            ip: Some("192.0.2.1".into()),
            user_agent: Some("curl".into()),
        };
        let failed = |at| {
            SecurityEvent::unknown_email(EventType::SignInFailed, at, 90, &origin)
                .detail("factor", "password")
        };
        let key = "keyed-hash-of-jo";
        store
            .take_slot(Subject::Unknown(key), &AttemptId::from("a1"), None, 2, NOW)
            .await
            .unwrap();
        store
            .record_unknown_events(key, &[failed(NOW)])
            .await
            .unwrap();
        let second = failed(NOW + 1);
        let locked = second
            .then(EventType::LockedOut)
            .detail("locked_until", NOW + 301);
        store
            .record_unknown_events(key, &[second, locked])
            .await
            .unwrap();

        assert_eq!(
            kept(key).await,
            ["sign_in_failed", "sign_in_failed", "locked_out"]
        );
        assert!(kept("another-key").await.is_empty());
        assert!(
            matches!(
                store
                    .take_slot(
                        Subject::Unknown(key),
                        &AttemptId::from("a2"),
                        None,
                        2,
                        NOW + 1
                    )
                    .await
                    .unwrap(),
                Slot::Taken { count: 2, .. }
            ),
            "the counter beside the events still counts"
        );
        for side in [Side::Host, acme()] {
            let listed = store.side_events(&side, None, None, 10).await.unwrap();
            assert!(listed.items.is_empty(), "{side:?}: {:?}", listed.items);
        }
        for user_id in ["", key] {
            let listed = store
                .user_events(&UserId::from(user_id), None, None, 10)
                .await
                .unwrap();
            assert!(listed.items.is_empty(), "{user_id:?}: {:?}", listed.items);
        }
    }

    pub async fn a_retried_slot_or_success_is_recognised_as_its_own(store: Shared) {
        // What the store sees when the SDK retries a write whose first try went through.
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        store
            .update_user(
                &u.id,
                &UserPatch {
                    pending_sign_in: Some(Some("sid".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let first = store
            .take_slot(
                Subject::User(&u.id),
                &AttemptId::from("a-1"),
                Some(&SignInId::from("sid")),
                1,
                NOW,
            )
            .await
            .unwrap();
        let again = store
            .take_slot(
                Subject::User(&u.id),
                &AttemptId::from("a-1"),
                Some(&SignInId::from("sid")),
                1,
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            (count(&first), count(&again)),
            (1, 1),
            "one slot, counted once"
        );
        assert_eq!(
            store
                .take_slot(
                    Subject::User(&u.id),
                    &AttemptId::from("a-2"),
                    Some(&SignInId::from("sid")),
                    1,
                    NOW
                )
                .await
                .unwrap(),
            Slot::Full
        );

        let success = Success {
            attempt: &AttemptId::from("a-1"),
            sid: Some(&SignInId::from("sid")),
            spend: Spend::TotpStep(7),
            patch: &UserPatch::default(),
            release_only: false,
            authenticator: None,
        };
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Done
        );
        assert_eq!(
            store.succeed(&u.id, &success, NOW).await.unwrap(),
            Succeeded::Done,
            "the retry is this attempt's own success"
        );
        let other = Success {
            attempt: &AttemptId::from("a-3"),
            ..success.clone()
        };
        assert_eq!(
            store.succeed(&u.id, &other, NOW).await.unwrap(),
            Succeeded::Ended,
            "another attempt is refused"
        );
    }

    fn code(user_id: &str, purpose: CodePurpose, hash: &str) -> PendingCode {
        PendingCode {
            user_id: UserId::from(user_id),
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

        assert!(
            !store
                .take_code(&UserId::from("u1"), CodePurpose::SignInSms, "hash-wrong")
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .code(&UserId::from("u1"), CodePurpose::SignInSms)
                .await
                .unwrap(),
            Some(c),
            "a wrong code leaves the right one usable"
        );
        assert!(
            !store
                .take_code(&UserId::from("u2"), CodePurpose::SignInSms, "hash-1")
                .await
                .unwrap(),
            "another user's code"
        );
        assert!(
            !store
                .take_code(&UserId::from("u1"), CodePurpose::ConfirmPhone, "hash-1")
                .await
                .unwrap(),
            "another purpose"
        );

        let results = at_once(10, |_| {
            let store = store.clone();
            async move {
                store
                    .take_code(&UserId::from("u1"), CodePurpose::SignInSms, "hash-1")
                    .await
            }
        })
        .await;
        assert_eq!(trues(&results), 1);
        assert_eq!(
            store
                .code(&UserId::from("u1"), CodePurpose::SignInSms)
                .await
                .unwrap(),
            None
        );
    }

    pub async fn a_new_code_replaces_the_pending_one_of_the_same_purpose_only(store: Shared) {
        store
            .put_code(&code("u1", CodePurpose::SignInEmail, "old"))
            .await
            .unwrap();
        store
            .put_code(&code("u1", CodePurpose::ConfirmEmail, "confirm"))
            .await
            .unwrap();
        let newer = code("u1", CodePurpose::SignInEmail, "new");
        store.put_code(&newer).await.unwrap();

        assert_eq!(
            store
                .code(&UserId::from("u1"), CodePurpose::SignInEmail)
                .await
                .unwrap(),
            Some(newer)
        );
        assert!(
            !store
                .take_code(&UserId::from("u1"), CodePurpose::SignInEmail, "old")
                .await
                .unwrap(),
            "the replaced code is dead"
        );
        assert_eq!(
            store
                .code(&UserId::from("u1"), CodePurpose::ConfirmEmail)
                .await
                .unwrap()
                .map(|c| c.hash),
            Some("confirm".to_string())
        );
    }

    pub async fn sends_racing_under_one_limit_are_all_counted_up_to_the_cap_and_no_further(
        store: Shared,
    ) {
        let limit = Limit {
            key: "tenant:HOST".to_string(),
            max: 15,
            seconds: 3600,
        };
        let results = at_once(20, |_| {
            let (store, limit) = (store.clone(), limit.clone());
            async move { store.take_send(&limit, NOW).await }
        })
        .await;
        let counted = results
            .iter()
            .filter(|r| matches!(r, Ok(Taken::Counted(_))))
            .count();
        let full = results
            .iter()
            .filter(|r| matches!(r, Ok(Taken::Full(_))))
            .count();
        assert_eq!(
            (counted, full),
            (15, 5),
            "no send fails for racing another: {results:?}"
        );
        assert_eq!(
            store.send_window(&limit.key).await.unwrap(),
            Some(Window {
                count: 15,
                window_end: NOW + 3600
            })
        );
    }

    pub async fn an_ended_window_starts_again_at_one_and_a_give_back_touches_only_its_own_window(
        store: Shared,
    ) {
        let limit = Limit {
            key: "cooldown:u1:sign_in_sms".to_string(),
            max: 1,
            seconds: 30,
        };
        assert_eq!(store.send_window(&limit.key).await.unwrap(), None);
        let first = Window {
            count: 1,
            window_end: NOW + 30,
        };
        assert_eq!(
            store.take_send(&limit, NOW).await.unwrap(),
            Taken::Counted(first)
        );
        assert_eq!(
            store.take_send(&limit, NOW + 29).await.unwrap(),
            Taken::Full(first)
        );

        // Many sends at once after the window ended: one opens the next window, the rest find it full.
        let results = at_once(6, |_| {
            let (store, limit) = (store.clone(), limit.clone());
            async move { store.take_send(&limit, NOW + 30).await }
        })
        .await;
        let second = Window {
            count: 1,
            window_end: NOW + 60,
        };
        assert_eq!(
            results
                .iter()
                .filter(|r| matches!(r, Ok(Taken::Counted(w)) if *w == second))
                .count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(Taken::Counted(_)) | Ok(Taken::Full(_)))),
            "{results:?}"
        );

        store
            .give_back_send(&limit.key, first.window_end)
            .await
            .unwrap();
        assert_eq!(
            store.send_window(&limit.key).await.unwrap(),
            Some(second),
            "a give-back for an ended window changes nothing"
        );
        store
            .give_back_send(&limit.key, second.window_end)
            .await
            .unwrap();
        assert_eq!(
            store.send_window(&limit.key).await.unwrap(),
            Some(Window {
                count: 0,
                window_end: NOW + 60
            })
        );
        store
            .give_back_send(&limit.key, second.window_end)
            .await
            .unwrap();
        assert_eq!(
            store.send_window(&limit.key).await.unwrap(),
            Some(Window {
                count: 0,
                window_end: NOW + 60
            }),
            "never below zero"
        );
        assert_eq!(
            store.take_send(&limit, NOW + 31).await.unwrap(),
            Taken::Counted(Window {
                count: 1,
                window_end: NOW + 60
            })
        );
    }

    fn device(user_id: &str, device_id: &str, created_at: Timestamp) -> Device {
        Device {
            user_id: UserId::from(user_id),
            device_id: DeviceId::from(device_id),
            token_hash: format!("hash-{device_id}"),
            security_stamp: "stamp-1".to_string(),
            created_at,
            last_used_at: created_at,
            expires_at: created_at + 14 * 86_400,
            user_agent: (created_at % 2 == 0).then(|| "Firefox".to_string()),
        }
    }

    pub async fn remembering_more_browsers_than_the_bound_forgets_the_oldest_of_that_user_only(
        store: Shared,
    ) {
        let max = twofa::devices::MAX_PER_USER;
        let other = device("u2", "d0", NOW);
        store.put_device(&other).await.unwrap();
        let all: Vec<Device> = (0..max + 3)
            .map(|i| device("u1", &format!("d{i:02}"), NOW + i as Timestamp))
            .collect();
        for d in &all {
            store.put_device(d).await.unwrap();
        }
        assert_eq!(
            store.devices(&UserId::from("u1")).await.unwrap(),
            all[3..].to_vec(),
            "the newest {max}, oldest first"
        );
        assert_eq!(
            store
                .device(&UserId::from("u1"), &DeviceId::from("d00"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.devices(&UserId::from("u2")).await.unwrap(),
            vec![other],
            "another user's browsers stay"
        );
    }

    pub async fn remembered_browsers_are_listed_touched_and_forgotten_per_user(store: Shared) {
        let (d1, d2, other) = (
            device("u1", "d1", NOW + 10),
            device("u1", "d2", NOW + 5),
            device("u2", "d1", NOW),
        );
        for d in [&d1, &d2, &other] {
            store.put_device(d).await.unwrap();
        }
        assert_eq!(
            store.devices(&UserId::from("u1")).await.unwrap(),
            vec![d2.clone(), d1.clone()],
            "oldest first"
        );
        assert_eq!(
            store
                .device(&UserId::from("u1"), &DeviceId::from("d1"))
                .await
                .unwrap(),
            Some(d1.clone())
        );
        assert_eq!(
            store
                .device(&UserId::from("u1"), &DeviceId::from("d9"))
                .await
                .unwrap(),
            None
        );

        store
            .touch_device(&UserId::from("u1"), &DeviceId::from("d1"), NOW + 50)
            .await
            .unwrap();
        assert_eq!(
            store
                .device(&UserId::from("u1"), &DeviceId::from("d1"))
                .await
                .unwrap()
                .map(|d| d.last_used_at),
            Some(NOW + 50)
        );
        store
            .touch_device(&UserId::from("u1"), &DeviceId::from("d9"), NOW + 50)
            .await
            .unwrap();
        assert_eq!(
            store
                .device(&UserId::from("u1"), &DeviceId::from("d9"))
                .await
                .unwrap(),
            None,
            "touching a forgotten browser does not bring it back"
        );

        assert!(
            store
                .delete_device(&UserId::from("u1"), &DeviceId::from("d1"), NOW)
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_device(&UserId::from("u1"), &DeviceId::from("d1"), NOW)
                .await
                .unwrap()
        );
        assert_eq!(store.devices(&UserId::from("u1")).await.unwrap(), vec![d2]);

        // More than one batch of deletes.
        for i in 0..30 {
            store
                .put_device(&device("u1", &format!("many{i}"), NOW + i))
                .await
                .unwrap();
        }
        store.delete_devices(&UserId::from("u1")).await.unwrap();
        assert_eq!(store.devices(&UserId::from("u1")).await.unwrap(), vec![]);
        assert_eq!(
            store.devices(&UserId::from("u2")).await.unwrap(),
            vec![other],
            "another user's browsers stay"
        );
        store.delete_devices(&UserId::from("nobody")).await.unwrap();
    }

    /// Accounts stored under the key an older rule gave their address (the text in
    /// lower case: as typed, before addresses were normalised, or normalised, before
    /// they were case-folded) are moved to the key it has now, once, and read back
    /// with it; a twin whose key another account holds, and an address that no
    /// longer normalises, stay where they are.
    pub async fn a_stored_address_is_moved_to_its_key_once_and_a_twin_stays_where_it_is(
        store: Shared,
    ) {
        let stored_before = |text: &str| User {
            email: Email::from_stored(text).expect("a stored address"),
            ..user(Side::Host, "x@example.com")
        };
        let nfd = stored_before("Jose\u{301}@example.com");
        let fullwidth = stored_before("\u{ff4a}os\u{e9}@example.com");
        let sigma = stored_before("\u{3bf}\u{3c2}@example.com");
        let invisible = stored_before("jo\u{200b}e@example.com");
        let today = user(Side::Host, "ada@example.com");
        for u in [&nfd, &fullwidth, &sigma, &invisible, &today] {
            store.create_user(u).await.unwrap();
        }

        let walk = rekey_emails(store.as_ref()).await.unwrap();
        // The first two have one key now: whichever the walk meets first moves.
        let (first, second) = match walk.moved.contains(&nfd.id) {
            true => (&nfd, &fullwidth),
            false => (&fullwidth, &nfd),
        };
        let mut moved = walk.moved.clone();
        moved.sort();
        let mut expected = vec![first.id.clone(), sigma.id.clone()];
        expected.sort();
        assert_eq!(moved, expected);
        assert_eq!(walk.twins, [(second.id.clone(), first.id.clone())]);
        assert_eq!(walk.kept, std::slice::from_ref(&invisible.id));
        assert!(walk.changed.is_empty());

        let found = store
            .user_by_email(&Side::Host, "jos\u{e9}@example.com")
            .await
            .unwrap()
            .expect("moved to the key its address has now");
        assert_eq!(found.id, first.id);
        assert_eq!(
            found.email.as_str(),
            first.email.as_str(),
            "shown as stored"
        );
        assert_eq!(
            found.email.key(),
            "jos\u{e9}@example.com",
            "read back with its key"
        );
        assert_eq!(
            store
                .user_by_email(&Side::Host, &first.email.key())
                .await
                .unwrap(),
            None,
            "the old key is free"
        );
        assert_eq!(
            store
                .user_by_email(&Side::Host, &second.email.key())
                .await
                .unwrap()
                .map(|u| u.id),
            Some(second.id.clone()),
            "the twin keeps its key"
        );
        assert_eq!(
            emails(
                &store
                    .users_in(&Side::Host, "\u{3bf}\u{3c3}", None, 10)
                    .await
                    .unwrap()
                    .items
            ),
            ["\u{3bf}\u{3c2}@example.com"],
            "listed under its key now"
        );
        assert!(
            matches!(
                store
                    .create_user(&user(Side::Host, "JOS\u{c9}@example.com"))
                    .await,
                Err(StoreError::Conflict("email"))
            ),
            "a case variant of a moved address is an address taken"
        );

        // Login's copy of the password hash moved with the key, and follows a change.
        let record = |key: &'static str| {
            let store = store.clone();
            async move { store.login_record(&Side::Host, key).await.unwrap() }
        };
        assert_eq!(
            record("jos\u{e9}@example.com")
                .await
                .and_then(|r| r.password_hash),
            Some(first.password_hash.clone())
        );
        let patch = UserPatch {
            password_hash: Some("new-hash".into()),
            ..UserPatch::default()
        };
        store.update_user(&first.id, &patch).await.unwrap();
        assert_eq!(
            record("jos\u{e9}@example.com")
                .await
                .and_then(|r| r.password_hash),
            Some("new-hash".to_string())
        );

        let again = rekey_emails(store.as_ref()).await.unwrap();
        assert_eq!(
            again,
            Rekeyed {
                twins: walk.twins.clone(),
                kept: walk.kept.clone(),
                ..Rekeyed::default()
            },
            "a second walk moves nothing"
        );
        assert!(
            matches!(
                store.rekey_email(first, "other@example.com").await,
                Err(StoreError::Conflict("user"))
            ),
            "a move decided on a key that is no longer the user's"
        );
    }

    /// The walk over every user reaches each once, a page at a time, in every side.
    pub async fn every_user_of_every_side_is_read_once_a_page_at_a_time(store: Shared) {
        let mut ids = Vec::new();
        for (side, email) in [
            (Side::Host, "a@example.com"),
            (acme(), "b@example.com"),
            (acme(), "c@example.com"),
            (Side::Tenant("globex".into()), "d@example.com"),
            (Side::Host, "e@example.com"),
        ] {
            let u = user(side, email);
            store.create_user(&u).await.unwrap();
            store
                .put_device(&device(u.id.as_str(), "d1", NOW))
                .await
                .unwrap();
            ids.push(u.id);
        }
        let mut read = Vec::new();
        let mut after = None;
        loop {
            let page = store.every_user(after.as_ref(), 2).await.unwrap();
            read.extend(page.users.into_iter().map(|u| u.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        read.sort();
        ids.sort();
        assert_eq!(read, ids);
    }

    fn emails(users: &[User]) -> Vec<String> {
        users.iter().map(|u| u.email.as_str().to_string()).collect()
    }

    pub async fn a_side_lists_its_users_by_email_prefix_a_page_at_a_time_and_never_another_sides(
        store: Shared,
    ) {
        for email in [
            "dan@example.com",
            "Bob@example.com",
            "amy@example.com",
            "carl@example.com",
            "bea@example.com",
        ] {
            store.create_user(&user(acme(), email)).await.unwrap();
        }
        let globex = Side::Tenant("globex".into());
        store
            .create_user(&user(globex.clone(), "bob@example.com"))
            .await
            .unwrap();
        store
            .create_user(&user(Side::Host, "ben@example.com"))
            .await
            .unwrap();
        let s = &store;

        let (all, sizes) = all_pages(|after| {
            let acme = acme();
            async move { s.users_in(&acme, "", after.as_ref(), 2).await }
        })
        .await;
        assert_eq!(
            emails(&all),
            [
                "amy@example.com",
                "bea@example.com",
                "Bob@example.com",
                "carl@example.com",
                "dan@example.com"
            ],
            "by email, case aside"
        );
        assert_eq!(sizes, [2, 2, 1], "the last page says it is the last");

        let b = s.users_in(&acme(), "b", None, 2).await.unwrap();
        assert_eq!(emails(&b.items), ["bea@example.com", "Bob@example.com"]);
        assert_eq!(
            b.next, None,
            "a page that ends the list exactly has no next page"
        );
        let (b_one_by_one, sizes) = all_pages(|after| {
            let acme = acme();
            async move { s.users_in(&acme, "b", after.as_ref(), 1).await }
        })
        .await;
        assert_eq!(
            (emails(&b_one_by_one), sizes),
            (emails(&b.items), vec![1, 1])
        );
        assert!(
            s.users_in(&acme(), "zz", None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );

        assert_eq!(
            emails(&s.users_in(&globex, "b", None, 10).await.unwrap().items),
            ["bob@example.com"]
        );
        assert_eq!(
            emails(&s.users_in(&Side::Host, "", None, 10).await.unwrap().items),
            ["ben@example.com"]
        );
        // A page key from one side only positions a list of another side; it never reaches across.
        let from_acme = s
            .users_in(&acme(), "", None, 1)
            .await
            .unwrap()
            .next
            .expect("more than one acme user");
        let crossed = s.users_in(&globex, "", Some(&from_acme), 10).await.unwrap();
        assert!(
            crossed.items.iter().all(|u| u.side == globex),
            "{:?}",
            emails(&crossed.items)
        );

        let bea = s
            .users_in(&acme(), "bea", None, 1)
            .await
            .unwrap()
            .items
            .remove(0);
        s.lock(Subject::User(&bea.id), NOW, NOW + 60, false)
            .await
            .unwrap();
        let listed = s
            .users_in(&acme(), "bea", None, 1)
            .await
            .unwrap()
            .items
            .remove(0);
        assert_eq!(
            listed,
            stored(s, &bea.id).await,
            "a listed user is the whole user, as stored"
        );
        assert_eq!(listed.lockout_end, Some(NOW + 60));
    }

    pub async fn an_admins_change_to_another_user_is_written_only_while_the_admins_stamp_holds(
        store: Shared,
    ) {
        let admin = user(acme(), "admin@example.com");
        let u = user(acme(), "jo@example.com");
        store.create_user(&admin).await.unwrap();
        store.create_user(&u).await.unwrap();
        // The admin's request read its stamp; the admin signs out everywhere meanwhile.
        let stale = admin.clone();
        store
            .update_user(&admin.id, &UserPatch::default().rotating_stamp())
            .await
            .unwrap();
        let reset = UserPatch {
            two_factor_enabled: Some(false),
            ..Default::default()
        };
        assert!(matches!(
            store
                .update_user(&u.id, &reset.clone().rotating_stamp().by(&stale, &u.id))
                .await,
            Err(StoreError::Conflict(STAMP))
        ));
        slot(&store, &u.id).await.unwrap();
        store
            .lock(Subject::User(&u.id), NOW, NOW + 300, false)
            .await
            .unwrap();
        assert!(matches!(
            store
                .unlock(
                    &u.id,
                    &RequestId::random().unwrap(),
                    Some(&AdminStamp::of(&stale)),
                    NOW
                )
                .await,
            Err(StoreError::Conflict(STAMP))
        ));
        let after = store.user(&u.id).await.unwrap().unwrap();
        assert_eq!(
            (after.security_stamp, after.lockout_end),
            (u.security_stamp.clone(), Some(NOW + 300)),
            "nothing was written for an admin whose session ended"
        );
        // Under the admin's stamp as it is now, both are written.
        let current = store.user(&admin.id).await.unwrap().unwrap();
        store
            .update_user(&u.id, &reset.rotating_stamp().by(&current, &u.id))
            .await
            .unwrap();
        assert_eq!(
            store
                .unlock(
                    &u.id,
                    &RequestId::random().unwrap(),
                    Some(&AdminStamp::of(&current)),
                    NOW
                )
                .await
                .unwrap(),
            Unlocked::Done
        );
        let after = store.user(&u.id).await.unwrap().unwrap();
        assert_ne!(after.security_stamp, u.security_stamp);
        assert_eq!(after.lockout_end, None);
    }

    pub async fn an_admins_change_to_a_side_is_written_only_while_the_admins_stamp_holds(
        store: Shared,
    ) {
        let mut admin = user(acme(), "admin@acme.test");
        admin.roles = vec![Role::TenantAdmin];
        store.create_tenant(&tenant("Acme"), &admin).await.unwrap();
        let before = store.tenant("acme").await.unwrap().unwrap();
        // The admin's request read its stamp; the admin signs out everywhere meanwhile.
        let stale = AdminStamp::of(&admin);
        store
            .update_user(&admin.id, &UserPatch::default().rotating_stamp())
            .await
            .unwrap();
        let weaker = TwoFactorSettings {
            allowed_providers: vec![Provider::Sms],
            ..before.settings.clone()
        };
        let lockout = LockoutPolicy {
            max_failed_attempts: 100,
            duration_seconds: 1,
        };
        for (what, refused) in [
            (
                "settings",
                store
                    .change_settings(&acme(), &before.settings, &weaker, Some(&stale))
                    .await
                    .map(|_| ()),
            ),
            (
                "feature",
                store
                    .set_tenant_feature("acme", Behaviour::Disabled, Some(&stale))
                    .await,
            ),
            (
                "tenant lockout",
                store
                    .set_tenant_lockout("acme", &lockout, Some(&stale))
                    .await,
            ),
            (
                "host lockout",
                store.set_host_lockout(&lockout, Some(&stale)).await,
            ),
        ] {
            assert!(
                matches!(refused, Err(StoreError::Conflict(STAMP))),
                "{what}: {refused:?}"
            );
        }
        assert_eq!(
            store.tenant("acme").await.unwrap().unwrap(),
            before,
            "nothing was written for an admin whose session ended"
        );
        assert_eq!(store.host().await.unwrap().lockout, None);
        // Under the admin's stamp as it is now, the change is written.
        let current = AdminStamp::of(&store.user(&admin.id).await.unwrap().unwrap());
        let saved = store
            .change_settings(&acme(), &before.settings, &weaker, Some(&current))
            .await
            .unwrap();
        assert_eq!(saved, weaker);
    }

    pub async fn unlocking_ends_the_lock_and_clears_the_count_of_an_existing_user_only(
        store: Shared,
    ) {
        let u = user(acme(), "jo@example.com");
        store.create_user(&u).await.unwrap();
        slot(&store, &u.id).await.unwrap();
        store
            .lock(Subject::User(&u.id), NOW, NOW + 300, false)
            .await
            .unwrap();
        assert_eq!(slot(&store, &u.id).await.unwrap(), Slot::Locked(NOW + 300));
        assert_eq!(
            store
                .unlock(&u.id, &RequestId::random().unwrap(), None, NOW)
                .await
                .unwrap(),
            Unlocked::Done
        );
        let after = stored(&store, &u.id).await;
        assert_eq!((after.lockout_end, after.failed_count), (None, 0));
        assert_eq!(
            count(&slot(&store, &u.id).await.unwrap()),
            1,
            "counting starts again at once"
        );
        assert!(matches!(
            store
                .unlock(
                    &UserId::from("no-such-user"),
                    &RequestId::random().unwrap(),
                    None,
                    NOW
                )
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.user(&UserId::from("no-such-user")).await.unwrap(),
            None,
            "unlocking does not create a user"
        );
    }

    pub async fn unlocking_keeps_the_streak_and_never_ends_the_lock_of_a_hundred_consecutive_failures(
        store: Shared,
    ) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let take = |attempt: String, now: Timestamp| {
            let (store, id) = (store.clone(), u.id.clone());
            async move {
                store
                    .take_slot(Subject::User(&id), &AttemptId::from(attempt), None, 5, now)
                    .await
                    .unwrap()
            }
        };
        // Five failures, a lock, an unlock, again and again: the streak only grows.
        let mut now = NOW;
        for round in 0..HARD_LIMIT / 5 {
            for i in 0..5 {
                let slot = take(format!("r{round}-{i}"), now).await;
                assert!(
                    matches!(slot, Slot::Taken { streak, .. } if streak == round * 5 + i + 1),
                    "round {round}, attempt {i}: {slot:?}"
                );
            }
            let hard = (round + 1) * 5 >= HARD_LIMIT;
            let until = now + if hard { HARD_LOCK_SECONDS } else { 300 };
            store
                .lock(Subject::User(&u.id), now, until, hard)
                .await
                .unwrap();
            let unlocked = store
                .unlock(&u.id, &RequestId::random().unwrap(), None, now + 1)
                .await
                .unwrap();
            if !hard {
                assert_eq!(unlocked, Unlocked::Done, "round {round}");
                continue;
            }
            assert_eq!(
                unlocked,
                Unlocked::HardLocked(until),
                "the lock after {HARD_LIMIT} consecutive failures is not the admin's to end"
            );
            assert_eq!(
                take("after-unlock".into(), now + 2).await,
                Slot::Locked(until),
                "attempt {} is not judged",
                HARD_LIMIT + 1
            );
            let after = stored(&store, &u.id).await;
            assert_eq!(after.lockout_end, Some(until), "nothing changed");
            // Once it ended by itself, a new period starts and unlocks work again.
            now = until;
            assert!(matches!(
                take("next-period".into(), now).await,
                Slot::Taken { streak: 1, .. }
            ));
            store
                .lock(Subject::User(&u.id), now, now + 300, false)
                .await
                .unwrap();
            assert_eq!(
                store
                    .unlock(&u.id, &RequestId::random().unwrap(), None, now)
                    .await
                    .unwrap(),
                Unlocked::Done
            );
            assert_eq!(stored(&store, &u.id).await.lockout_end, None);
            return;
        }
        panic!("the streak never reached {HARD_LIMIT}");
    }

    pub async fn a_lost_second_factor_mark_is_kept_until_a_reset_of_the_second_factor(
        store: Shared,
    ) {
        let u = user(acme(), "jo@example.com");
        store.create_user(&u).await.unwrap();
        assert!(!stored(&store, &u.id).await.second_factor_lost);
        let mark = UserPatch {
            second_factor_lost: Some(true),
            ..Default::default()
        };
        store.update_user(&u.id, &mark).await.unwrap();
        let marked = stored(&store, &u.id).await;
        assert!(marked.second_factor_lost);
        assert_eq!(
            store
                .users_in(&acme(), "", None, 10)
                .await
                .unwrap()
                .items
                .iter()
                .map(|l| l.second_factor_lost)
                .collect::<Vec<_>>(),
            [true],
            "the list the settings change reads sees the mark"
        );
        store
            .update_user(&u.id, &UserPatch::default().rotating_stamp())
            .await
            .unwrap();
        assert!(
            stored(&store, &u.id).await.second_factor_lost,
            "other changes keep it"
        );
        store
            .update_user(&u.id, &UserPatch::second_factor_reset().rotating_stamp())
            .await
            .unwrap();
        assert!(!stored(&store, &u.id).await.second_factor_lost);
    }

    fn event(t: EventType, u: &User, at: Timestamp) -> SecurityEvent {
        SecurityEvent::new(
            t,
            u,
            at,
            90,
            &Origin {
                ip: Some("192.0.2.1".into()),
                user_agent: Some("Firefox".into()),
            },
        )
    }

    pub async fn events_are_listed_newest_first_per_user_and_per_side_a_page_at_a_time(
        store: Shared,
    ) {
        let (u1, u2, u3) = (
            user(acme(), "one@example.com"),
            user(acme(), "two@example.com"),
            user(Side::Tenant("globex".into()), "three@example.com"),
        );
        let mut u1_events = Vec::new();
        for i in 0..5 {
            let t = if i % 2 == 0 {
                EventType::SignIn
            } else {
                EventType::SignInFailed
            };
            let e = event(t, &u1, NOW + i).detail("amr", vec!["pwd"]);
            store.record_events(std::slice::from_ref(&e)).await.unwrap();
            u1_events.push(e);
        }
        // One request's events, in one write, in the same second.
        let failed = event(EventType::SignInFailed, &u2, NOW + 2);
        let locked = event(EventType::LockedOut, &u2, NOW + 2)
            .by(&u1)
            .detail("failures", 5);
        store
            .record_events(&[failed.clone(), locked.clone()])
            .await
            .unwrap();
        let other = event(EventType::SignIn, &u3, NOW + 3);
        store
            .record_events(std::slice::from_ref(&other))
            .await
            .unwrap();
        let s = &store;

        let (mine, sizes) = all_pages(|after| {
            let id = u1.id.clone();
            async move { s.user_events(&id, None, after.as_ref(), 2).await }
        })
        .await;
        u1_events.reverse();
        assert_eq!(mine, u1_events, "newest first, each event whole");
        assert_eq!(sizes, [2, 2, 1]);
        let sign_ins = s
            .user_events(&u1.id, Some(EventType::SignIn), None, 10)
            .await
            .unwrap();
        assert_eq!(
            sign_ins.items.iter().map(|e| e.at).collect::<Vec<_>>(),
            [NOW + 4, NOW + 2, NOW]
        );
        let (failures, _) = all_pages(|after| {
            let id = u1.id.clone();
            async move {
                s.user_events(&id, Some(EventType::SignInFailed), after.as_ref(), 1)
                    .await
            }
        })
        .await;
        assert_eq!(
            failures.iter().map(|e| e.at).collect::<Vec<_>>(),
            [NOW + 3, NOW + 1]
        );

        let (side, _) =
            all_pages(|after| async move { s.side_events(&acme(), None, after.as_ref(), 3).await })
                .await;
        assert_eq!(side.len(), 7, "both acme users' events, not globex's");
        assert!(
            side.windows(2).all(|w| w[0].sort_key() > w[1].sort_key()),
            "newest first"
        );
        let pos = |e: &SecurityEvent| {
            side.iter()
                .position(|x| x.event_id == e.event_id)
                .expect("listed")
        };
        assert!(
            pos(&locked) < pos(&failed),
            "the lock came after the failure that caused it"
        );
        let (locks, _) = all_pages(|after| async move {
            s.side_events(&acme(), Some(EventType::LockedOut), after.as_ref(), 1)
                .await
        })
        .await;
        assert_eq!(locks, vec![locked]);
        assert_eq!(
            s.side_events(&Side::Tenant("globex".into()), None, None, 10)
                .await
                .unwrap()
                .items,
            vec![other]
        );
        assert!(
            s.side_events(&Side::Host, None, None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );

        // More events than one batch write takes.
        let many: Vec<SecurityEvent> = (0..30)
            .map(|i| event(EventType::BrowserForgotten, &u3, NOW + 100 + i))
            .collect();
        store.record_events(&many).await.unwrap();
        let (u3_events, _) = all_pages(|after| {
            let id = u3.id.clone();
            async move { s.user_events(&id, None, after.as_ref(), 100).await }
        })
        .await;
        assert_eq!(u3_events.len(), 31);
    }

    pub async fn a_password_reset_code_is_a_purpose_of_its_own_taken_once(store: Shared) {
        store
            .put_code(&code("u1", CodePurpose::SignInEmail, "sign-in"))
            .await
            .unwrap();
        let reset = code("u1", CodePurpose::PasswordReset, "reset");
        store.put_code(&reset).await.unwrap();
        assert_eq!(
            store
                .code(&UserId::from("u1"), CodePurpose::PasswordReset)
                .await
                .unwrap(),
            Some(reset)
        );
        assert!(
            !store
                .take_code(&UserId::from("u1"), CodePurpose::PasswordReset, "sign-in")
                .await
                .unwrap(),
            "a sign-in code is no reset code"
        );
        let results = at_once(10, |_| {
            let store = store.clone();
            async move {
                store
                    .take_code(&UserId::from("u1"), CodePurpose::PasswordReset, "reset")
                    .await
            }
        })
        .await;
        assert_eq!(trues(&results), 1);
        assert_eq!(
            store
                .code(&UserId::from("u1"), CodePurpose::SignInEmail)
                .await
                .unwrap()
                .map(|c| c.hash),
            Some("sign-in".to_string())
        );
    }

    fn lockout(max_failed_attempts: u32, duration_seconds: i64) -> LockoutPolicy {
        LockoutPolicy {
            max_failed_attempts,
            duration_seconds,
        }
    }

    pub async fn the_hosts_lockout_values_reach_every_tenant_item_and_a_tenants_own_values_win(
        store: Shared,
    ) {
        let defaults = lockout(5, 300);
        assert_eq!(store.host().await.unwrap(), twofa::tenant::Host::default());
        store
            .create_tenant(&tenant("Acme"), &user(acme(), "admin@acme.test"))
            .await
            .unwrap();
        store
            .create_tenant(
                &tenant("Globex"),
                &user(Side::Tenant("globex".into()), "admin@globex.test"),
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .tenant("acme")
                .await
                .unwrap()
                .unwrap()
                .lockout_or(defaults),
            defaults
        );

        store
            .set_tenant_lockout("globex", &lockout(9, 90), None)
            .await
            .unwrap();
        store.set_host_lockout(&lockout(2, 60), None).await.unwrap();
        assert_eq!(store.host().await.unwrap().lockout, Some(lockout(2, 60)));
        assert_eq!(
            store
                .tenant("acme")
                .await
                .unwrap()
                .unwrap()
                .lockout_or(defaults),
            lockout(2, 60),
            "acme follows the host"
        );
        assert_eq!(
            store
                .tenant("globex")
                .await
                .unwrap()
                .unwrap()
                .lockout_or(defaults),
            lockout(9, 90),
            "globex keeps its own"
        );

        store
            .create_tenant(
                &tenant("Initech"),
                &user(Side::Tenant("initech".into()), "admin@initech.test"),
            )
            .await
            .unwrap();
        let initech = store.tenant("initech").await.unwrap().unwrap();
        assert_eq!(
            (initech.lockout, initech.host_lockout),
            (None, Some(lockout(2, 60))),
            "a new tenant starts with the host's values"
        );

        store.set_host_lockout(&lockout(3, 30), None).await.unwrap();
        for key in ["acme", "globex", "initech"] {
            assert_eq!(
                store.tenant(key).await.unwrap().unwrap().host_lockout,
                Some(lockout(3, 30)),
                "{key}"
            );
        }
        assert!(matches!(
            store
                .set_tenant_lockout("nowhere", &lockout(1, 1), None)
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.tenant("nowhere").await.unwrap(),
            None,
            "a refused write must not create the tenant"
        );
    }

    pub async fn an_admins_settings_changes_and_lockout_changes_leave_each_other_in_place(
        store: Shared,
    ) {
        let defaults = TwoFactorSettings::default();
        let forced = TwoFactorSettings {
            behaviour: Behaviour::Forced,
            ..Default::default()
        };
        // The host's lockout values saved before its settings ever were: the first
        // settings change must set them beside the values, not replace the item.
        store.set_host_lockout(&lockout(4, 40), None).await.unwrap();
        assert_eq!(
            store
                .change_settings(&Side::Host, &defaults, &defaults, None)
                .await
                .unwrap(),
            defaults,
            "lockout values are not settings"
        );
        assert_eq!(
            store
                .change_settings(&Side::Host, &defaults, &forced, None)
                .await
                .unwrap(),
            forced
        );
        assert_eq!(
            store.host().await.unwrap(),
            twofa::tenant::Host {
                settings: Some(forced.clone()),
                lockout: Some(lockout(4, 40))
            }
        );
        let sms_only = TwoFactorSettings {
            allowed_providers: vec![Provider::Sms],
            ..forced.clone()
        };
        store
            .change_settings(&Side::Host, &forced, &sms_only, None)
            .await
            .unwrap();
        store.set_host_lockout(&lockout(6, 60), None).await.unwrap();
        assert_eq!(
            store.host().await.unwrap(),
            twofa::tenant::Host {
                settings: Some(sms_only.clone()),
                lockout: Some(lockout(6, 60))
            }
        );

        store
            .create_tenant(&tenant("Acme"), &user(acme(), "admin@acme.test"))
            .await
            .unwrap();
        store
            .set_tenant_lockout("acme", &lockout(7, 70), None)
            .await
            .unwrap();
        let read = store.tenant("acme").await.unwrap().unwrap().settings;
        let changed = TwoFactorSettings {
            remember_browser: !read.remember_browser,
            ..read.clone()
        };
        store
            .change_settings(&acme(), &read, &changed, None)
            .await
            .unwrap();
        let t = store.tenant("acme").await.unwrap().unwrap();
        assert_eq!(
            (t.lockout, t.host_lockout, t.settings),
            (Some(lockout(7, 70)), Some(lockout(6, 60)), changed)
        );
    }

    pub async fn lockout_values_and_two_factor_settings_of_one_item_are_written_apart(
        store: Shared,
    ) {
        let forced = TwoFactorSettings {
            behaviour: Behaviour::Forced,
            ..Default::default()
        };
        store.set_host_lockout(&lockout(4, 40), None).await.unwrap();
        store.set_host_settings(&forced).await.unwrap();
        assert_eq!(
            store.host().await.unwrap(),
            twofa::tenant::Host {
                settings: Some(forced.clone()),
                lockout: Some(lockout(4, 40))
            }
        );
        store.set_host_lockout(&lockout(6, 60), None).await.unwrap();
        assert_eq!(
            store.host_settings().await.unwrap(),
            Some(forced.clone()),
            "the lockout write kept the settings"
        );

        store
            .create_tenant(&tenant("Acme"), &user(acme(), "admin@acme.test"))
            .await
            .unwrap();
        store
            .set_tenant_lockout("acme", &lockout(7, 70), None)
            .await
            .unwrap();
        store.set_tenant_settings("acme", &forced).await.unwrap();
        store
            .set_tenant_feature("acme", Behaviour::Disabled, None)
            .await
            .unwrap();
        let t = store.tenant("acme").await.unwrap().unwrap();
        assert_eq!(
            (t.lockout, t.host_lockout, t.settings, t.feature),
            (
                Some(lockout(7, 70)),
                Some(lockout(6, 60)),
                forced,
                Behaviour::Disabled
            )
        );
    }

    pub async fn racing_host_lockout_changes_and_tenant_creations_leave_every_tenant_with_the_newest_values(
        store: Shared,
    ) {
        let results = at_once(16, |i| {
            let store = store.clone();
            async move {
                if i % 2 == 0 {
                    store
                        .set_host_lockout(&lockout(1 + i as u32, 10 + i as i64), None)
                        .await
                } else {
                    let name = format!("t{i}");
                    store
                        .create_tenant(
                            &tenant(&name),
                            &user(Side::Tenant(name.clone()), &format!("admin@{name}.test")),
                        )
                        .await
                }
            }
        })
        .await;
        for r in results {
            r.expect("no store error while host changes and tenant creations race");
        }
        let host = store.host().await.unwrap().lockout;
        assert!(host.is_some());
        for i in (1..16).step_by(2) {
            let t = store
                .tenant(&format!("t{i}"))
                .await
                .unwrap()
                .expect("the tenant was created");
            assert_eq!(t.host_lockout, host, "t{i} holds the host's newest values");
        }
    }

    /// A session of `user_id` started at `created_at`, lasting a day, at generation 0.
    fn session(user_id: &UserId, session_id: &str, created_at: Timestamp) -> Session {
        Session {
            user_id: user_id.clone(),
            session_id: SessionId::from(session_id),
            generation: 0,
            refresh_hash: format!("hash-{session_id}-0"),
            security_stamp: "stamp-1".to_string(),
            amr: vec![Amr::Pwd, Amr::Otp],
            auth_time: created_at,
            mfa_at: (created_at % 2 == 0).then_some(created_at),
            created_at,
            last_used_at: created_at,
            expires_at: created_at + 86_400,
            ip: Some("192.0.2.7".to_string()),
            user_agent: (created_at % 2 == 0).then(|| "Firefox".to_string()),
            rotation_id: String::new(),
        }
    }

    fn rotation(from_generation: u64, now: Timestamp) -> Rotation {
        Rotation {
            from_generation,
            refresh_hash: format!("hash-{}", uuid::Uuid::new_v4().simple()),
            rotation_id: uuid::Uuid::new_v4().to_string(),
            now,
            user_stamp: "stamp-1".to_string(),
        }
    }

    /// A stored user whose stamp is the one [`session`]s and [`rotation`]s name.
    async fn session_owner(store: &Shared) -> UserId {
        let mut u = user(
            Side::Host,
            &format!("{}@example.com", uuid::Uuid::new_v4().simple()),
        );
        u.security_stamp = "stamp-1".to_string();
        store.create_user(&u).await.unwrap();
        u.id
    }

    pub async fn a_rotation_is_refused_once_the_users_stamp_changed_or_the_user_is_locked(
        store: Shared,
    ) {
        let u = session_owner(&store).await;
        let s = session(&u, "s1", NOW);
        store.put_session(&s).await.unwrap();
        let stale = Rotation {
            user_stamp: "stamp-0".to_string(),
            ..rotation(0, NOW + 1)
        };
        assert!(
            !store
                .rotate_session(&u, &s.session_id, &stale)
                .await
                .unwrap(),
            "a refresh judged under another stamp hands out nothing"
        );
        let stranger = UserId::random();
        let theirs = session(&stranger, "s1", NOW);
        store.put_session(&theirs).await.unwrap();
        assert!(
            !store
                .rotate_session(&stranger, &theirs.session_id, &rotation(0, NOW + 1))
                .await
                .unwrap(),
            "no user, no rotation"
        );
        store
            .lock(Subject::User(&u), NOW, NOW + 300, false)
            .await
            .unwrap();
        assert!(
            !store
                .rotate_session(&u, &s.session_id, &rotation(0, NOW + 2))
                .await
                .unwrap(),
            "a locked user's session does not renew"
        );
        assert!(
            store
                .rotate_session(&u, &s.session_id, &rotation(0, NOW + 301))
                .await
                .unwrap(),
            "once the lock is over it does"
        );
    }

    pub async fn sessions_are_listed_oldest_first_per_user_and_read_with_their_user_in_one_call(
        store: Shared,
    ) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let other = UserId::random();
        let (s1, s2, s3) = (
            session(&u.id, "s1", NOW + 10),
            session(&u.id, "s2", NOW + 5),
            session(&u.id, "s3", NOW + 20),
        );
        for s in [&s1, &s2, &s3, &session(&other, "s1", NOW)] {
            store.put_session(s).await.unwrap();
        }
        assert_eq!(
            store.sessions(&u.id).await.unwrap(),
            vec![s2.clone(), s1.clone(), s3.clone()]
        );
        assert_eq!(
            store.session(&u.id, &s1.session_id).await.unwrap(),
            Some(s1.clone())
        );
        assert_eq!(
            store.session(&u.id, &SessionId::from("s9")).await.unwrap(),
            None
        );
        assert_eq!(
            store.user_and_session(&u.id, &s1.session_id).await.unwrap(),
            (Some(u.clone()), Some(s1.clone()))
        );
        assert_eq!(
            store
                .user_and_session(&u.id, &SessionId::from("s9"))
                .await
                .unwrap(),
            (Some(u.clone()), None)
        );
        // Another user's session of the same id is not this user's.
        assert_eq!(
            store
                .user_and_session(&other, &s2.session_id)
                .await
                .unwrap(),
            (None, None)
        );
        assert_eq!(store.sessions(&UserId::random()).await.unwrap(), vec![]);
    }

    pub async fn starting_more_sessions_than_the_bound_ends_the_oldest_of_that_user_only(
        store: Shared,
    ) {
        let max = twofa::sessions::MAX_PER_USER;
        let (u1, u2) = (UserId::random(), UserId::random());
        let theirs = session(&u2, "s0", NOW);
        store.put_session(&theirs).await.unwrap();
        let all: Vec<Session> = (0..max + 3)
            .map(|i| session(&u1, &format!("s{i:02}"), NOW + i as Timestamp))
            .collect();
        for s in &all {
            store.put_session(s).await.unwrap();
        }
        assert_eq!(store.sessions(&u1).await.unwrap(), all[3..].to_vec());
        assert_eq!(
            store.session(&u1, &SessionId::from("s00")).await.unwrap(),
            None
        );
        assert_eq!(store.sessions(&u2).await.unwrap(), vec![theirs]);
        // Started again (a rewrite of one of the kept ones) ends nothing.
        store.put_session(&all[3]).await.unwrap();
        assert_eq!(store.sessions(&u1).await.unwrap(), all[3..].to_vec());
    }

    pub async fn a_rotation_applies_once_from_its_generation_and_never_after_expiry(store: Shared) {
        let u = session_owner(&store).await;
        let s = session(&u, "s1", NOW);
        store.put_session(&s).await.unwrap();
        let first = rotation(0, NOW + 60);
        assert!(
            store
                .rotate_session(&u, &s.session_id, &first)
                .await
                .unwrap()
        );
        let after = Session {
            generation: 1,
            refresh_hash: first.refresh_hash.clone(),
            rotation_id: first.rotation_id.clone(),
            last_used_at: NOW + 60,
            ..s.clone()
        };
        assert_eq!(
            store.session(&u, &s.session_id).await.unwrap(),
            Some(after.clone())
        );
        // The same rotation sent again (a retry whose first answer was lost) is its own success.
        assert!(
            store
                .rotate_session(&u, &s.session_id, &first)
                .await
                .unwrap()
        );
        // Another rotation from the spent generation (a rotated token presented again) is refused.
        assert!(
            !store
                .rotate_session(&u, &s.session_id, &rotation(0, NOW + 61))
                .await
                .unwrap()
        );
        // So is one from a generation not reached yet.
        assert!(
            !store
                .rotate_session(&u, &s.session_id, &rotation(2, NOW + 61))
                .await
                .unwrap()
        );
        assert_eq!(
            store.session(&u, &s.session_id).await.unwrap(),
            Some(after.clone())
        );
        // The next generation rotates; at or past the expiry nothing does.
        assert!(
            store
                .rotate_session(&u, &s.session_id, &rotation(1, NOW + 62))
                .await
                .unwrap()
        );
        assert!(
            !store
                .rotate_session(&u, &s.session_id, &rotation(2, s.expires_at))
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .session(&u, &s.session_id)
                .await
                .unwrap()
                .map(|x| x.generation),
            Some(2)
        );
        // No session, no rotation (and none is created).
        assert!(
            !store
                .rotate_session(&u, &SessionId::from("s9"), &rotation(0, NOW))
                .await
                .unwrap()
        );
        assert_eq!(
            store.session(&u, &SessionId::from("s9")).await.unwrap(),
            None
        );
        // The last generation there is never wraps around.
        let top = Session {
            session_id: SessionId::from("top"),
            generation: u64::MAX,
            ..s.clone()
        };
        store.put_session(&top).await.unwrap();
        assert!(
            !store
                .rotate_session(&u, &top.session_id, &rotation(u64::MAX, NOW))
                .await
                .unwrap()
        );
    }

    pub async fn of_concurrent_rotations_from_one_generation_exactly_one_wins(store: Shared) {
        let u = session_owner(&store).await;
        let s = session(&u, "s1", NOW);
        store.put_session(&s).await.unwrap();
        let rotations: Vec<Rotation> = (0..8).map(|_| rotation(0, NOW + 1)).collect();
        let results = at_once(rotations.len(), |i| {
            let (store, u, sid, r) = (
                store.clone(),
                u.clone(),
                s.session_id.clone(),
                rotations[i].clone(),
            );
            async move { store.rotate_session(&u, &sid, &r).await }
        })
        .await;
        assert_eq!(trues(&results), 1, "{results:?}");
        let winner = results
            .iter()
            .position(|r| matches!(r, Ok(true)))
            .expect("one winner");
        let stored = store.session(&u, &s.session_id).await.unwrap().unwrap();
        assert_eq!(stored.generation, 1);
        assert_eq!(stored.refresh_hash, rotations[winner].refresh_hash);
        assert_eq!(stored.rotation_id, rotations[winner].rotation_id);
    }

    pub async fn a_session_is_restamped_only_while_it_exists(store: Shared) {
        let u = UserId::random();
        let s = session(&u, "s1", NOW);
        store.put_session(&s).await.unwrap();
        assert!(
            store
                .restamp_session(&u, &s.session_id, "stamp-2")
                .await
                .unwrap()
        );
        assert_eq!(
            store.session(&u, &s.session_id).await.unwrap(),
            Some(Session {
                security_stamp: "stamp-2".to_string(),
                ..s.clone()
            })
        );
        assert!(
            !store
                .restamp_session(&u, &SessionId::from("s9"), "stamp-2")
                .await
                .unwrap()
        );
        assert_eq!(
            store.session(&u, &SessionId::from("s9")).await.unwrap(),
            None
        );
    }

    pub async fn a_session_ends_once_and_ending_all_ends_only_that_users(store: Shared) {
        let (u1, u2) = (UserId::random(), UserId::random());
        let s1 = session(&u1, "s1", NOW);
        let s2 = session(&u1, "s2", NOW + 1);
        let theirs = session(&u2, "s1", NOW);
        for s in [&s1, &s2, &theirs] {
            store.put_session(s).await.unwrap();
        }
        assert!(store.end_session(&u1, &s1.session_id, NOW).await.unwrap());
        assert!(!store.end_session(&u1, &s1.session_id, NOW).await.unwrap());
        assert_eq!(store.sessions(&u1).await.unwrap(), vec![s2.clone()]);
        // Past its expiry and the TTL's grace it may be swept or not: no longer there either way.
        let late = s2.expires_at + twofa::store::TTL_GRACE_SECONDS;
        assert!(!store.end_session(&u1, &s2.session_id, late).await.unwrap());
        for i in 0..5 {
            store
                .put_session(&session(&u1, &format!("many{i}"), NOW + i))
                .await
                .unwrap();
        }
        store.end_sessions(&u1).await.unwrap();
        assert_eq!(store.sessions(&u1).await.unwrap(), vec![]);
        assert_eq!(
            store.user_and_session(&u1, &s2.session_id).await.unwrap(),
            (None, None)
        );
        assert_eq!(store.sessions(&u2).await.unwrap(), vec![theirs]);
        store.end_sessions(&UserId::random()).await.unwrap();
    }

    fn passkey(id: &str, credential_id: &str, at: Timestamp) -> Passkey {
        Passkey {
            id: PasskeyId::from(id),
            credential_id: credential_id.to_string(),
            name: format!("key {id}"),
            created_at: at,
            last_used_at: None,
            backed_up: false,
            counter: 1,
            credential: "{\"cred\":{}}".to_string(),
        }
    }

    pub async fn a_passkey_is_claimed_once_in_its_side_and_removed_with_its_claim(store: Shared) {
        let (ada, bob) = (
            user(acme(), "ada@acme.example"),
            user(acme(), "bob@acme.example"),
        );
        let host = user(Side::Host, "ada@acme.example");
        for u in [&ada, &bob, &host] {
            store.create_user(u).await.unwrap();
        }
        let key = passkey("pk-1", "Y3JlZC0x", NOW);
        let none = UserPatch::default();
        assert_eq!(
            store
                .add_passkey(&ada.id, &acme(), &key, &none)
                .await
                .unwrap(),
            PasskeyAdded::Done
        );
        assert_eq!(stored(&store, &ada.id).await.passkeys, vec![key.clone()]);
        assert_eq!(
            store.credential_owner(&acme(), "Y3JlZC0x").await.unwrap(),
            Some(ada.id.clone())
        );
        assert_eq!(
            store
                .credential_owner(&Side::Host, "Y3JlZC0x")
                .await
                .unwrap(),
            None
        );
        // The same credential on another account of the side: refused, nothing written.
        let theirs = passkey("pk-2", "Y3JlZC0x", NOW);
        assert_eq!(
            store
                .add_passkey(&bob.id, &acme(), &theirs, &none)
                .await
                .unwrap(),
            PasskeyAdded::Taken
        );
        assert!(stored(&store, &bob.id).await.passkeys.is_empty());
        // Another side is another namespace.
        assert_eq!(
            store
                .add_passkey(&host.id, &Side::Host, &theirs, &none)
                .await
                .unwrap(),
            PasskeyAdded::Done
        );

        assert!(
            store
                .rename_passkey(&ada.id, &key.id, "Phone")
                .await
                .unwrap()
        );
        assert!(
            !store
                .rename_passkey(&ada.id, &PasskeyId::from("nope"), "x")
                .await
                .unwrap()
        );
        assert!(!store.rename_passkey(&bob.id, &key.id, "x").await.unwrap());
        assert_eq!(stored(&store, &ada.id).await.passkeys[0].name, "Phone");

        let patch = UserPatch::default()
            .rotating_stamp()
            .under_stamp(&ada.security_stamp);
        assert!(
            store
                .remove_passkey(&ada.id, &acme(), &key, &patch)
                .await
                .unwrap()
        );
        let after = stored(&store, &ada.id).await;
        assert!(after.passkeys.is_empty());
        assert_ne!(
            after.security_stamp, ada.security_stamp,
            "removed with its patch"
        );
        assert_eq!(
            store.credential_owner(&acme(), "Y3JlZC0x").await.unwrap(),
            None
        );
        let again = UserPatch::default()
            .rotating_stamp()
            .under_stamp(&after.security_stamp);
        assert!(
            !store
                .remove_passkey(&ada.id, &acme(), &key, &again)
                .await
                .unwrap()
        );
        // Freed, the credential may be enrolled again; forgetting claims frees them too.
        assert_eq!(
            store
                .add_passkey(&bob.id, &acme(), &theirs, &none)
                .await
                .unwrap(),
            PasskeyAdded::Done
        );
        store
            .forget_credentials(&acme(), &["Y3JlZC0x".to_string()])
            .await
            .unwrap();
        assert_eq!(
            store.credential_owner(&acme(), "Y3JlZC0x").await.unwrap(),
            None
        );
        assert_eq!(
            store
                .credential_owner(&Side::Host, "Y3JlZC0x")
                .await
                .unwrap(),
            Some(host.id.clone())
        );
    }

    pub async fn a_passkey_is_added_only_under_the_stamp_read_and_up_to_the_bound(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let stale = UserPatch::default()
            .rotating_stamp()
            .under_stamp("another stamp");
        assert_eq!(
            store
                .add_passkey(&u.id, &Side::Host, &passkey("p0", "c0", NOW), &stale)
                .await
                .unwrap(),
            PasskeyAdded::Ended
        );
        assert_eq!(
            store.credential_owner(&Side::Host, "c0").await.unwrap(),
            None
        );
        assert_eq!(
            store
                .add_passkey(
                    &UserId::random(),
                    &Side::Host,
                    &passkey("p0", "c0", NOW),
                    &UserPatch::default()
                )
                .await
                .unwrap(),
            PasskeyAdded::Ended,
            "no such user"
        );
        for i in 0..MAX_PER_USER {
            let added = store
                .add_passkey(
                    &u.id,
                    &Side::Host,
                    &passkey(&format!("p{i}"), &format!("c{i}"), NOW + i as i64),
                    &UserPatch::default(),
                )
                .await
                .unwrap();
            assert_eq!(added, PasskeyAdded::Done, "{i}");
        }
        assert_eq!(
            store
                .add_passkey(
                    &u.id,
                    &Side::Host,
                    &passkey("px", "cx", NOW),
                    &UserPatch::default()
                )
                .await
                .unwrap(),
            PasskeyAdded::Full
        );
        assert_eq!(
            store.credential_owner(&Side::Host, "cx").await.unwrap(),
            None
        );
        let ids: Vec<String> = stored(&store, &u.id)
            .await
            .passkeys
            .iter()
            .map(|p| p.id.to_string())
            .collect();
        let expected: Vec<String> = (0..MAX_PER_USER).map(|i| format!("p{i}")).collect();
        assert_eq!(ids, expected, "oldest first");
    }

    pub async fn a_ceremony_is_taken_once_under_concurrency_and_never_after_it_expired(
        store: Shared,
    ) {
        let c = Ceremony {
            id: CeremonyId::from("ceremony-1"),
            purpose: Purpose::SignIn { side: acme() },
            state: "{\"challenge\":\"x\"}".to_string(),
            expires_at: NOW + 300,
        };
        store.put_ceremony(&c).await.unwrap();
        let takers: Vec<AttemptId> = (0..8).map(|i| AttemptId::from(format!("t{i}"))).collect();
        let results = at_once(takers.len(), |i| {
            let (store, taker) = (store.clone(), takers[i].clone());
            async move {
                store
                    .take_ceremony(&CeremonyId::from("ceremony-1"), &taker, NOW)
                    .await
            }
        })
        .await;
        let won: Vec<usize> = (0..results.len())
            .filter(|i| matches!(&results[*i], Ok(Some(_))))
            .collect();
        assert_eq!(won.len(), 1, "{results:?}");
        assert_eq!(results[won[0]].as_ref().unwrap().as_ref(), Some(&c));
        // The winner's retry (its answer lost) gets it again; nobody else does.
        assert_eq!(
            store
                .take_ceremony(&c.id, &takers[won[0]], NOW)
                .await
                .unwrap(),
            Some(c.clone())
        );
        let loser = takers[(won[0] + 1) % takers.len()].clone();
        assert_eq!(store.take_ceremony(&c.id, &loser, NOW).await.unwrap(), None);

        let late = Ceremony {
            id: CeremonyId::from("ceremony-2"),
            ..c.clone()
        };
        store.put_ceremony(&late).await.unwrap();
        let t = AttemptId::from("late");
        assert_eq!(
            store.take_ceremony(&late.id, &t, NOW + 300).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .take_ceremony(&CeremonyId::from("never"), &t, NOW)
                .await
                .unwrap(),
            None
        );
    }

    pub async fn an_assertion_moves_the_counter_once_under_concurrency(store: Shared) {
        let u = user(Side::Host, "jo@example.com");
        store.create_user(&u).await.unwrap();
        let key = passkey("pk-1", "c1", NOW);
        store
            .add_passkey(&u.id, &Side::Host, &key, &UserPatch::default())
            .await
            .unwrap();
        let asserted = Asserted {
            passkey_id: key.id.clone(),
            previous_counter: 1,
            counter: 2,
            backed_up: true,
            syncable: true,
        };
        let results = at_once(8, |_| {
            let (store, id, asserted) = (store.clone(), u.id.clone(), asserted.clone());
            async move { succeed(&store, &id, None, Spend::Passkey(&asserted)).await }
        })
        .await;
        let done = results
            .iter()
            .filter(|r| matches!(r, Ok(Succeeded::Done)))
            .count();
        let spent = results
            .iter()
            .filter(|r| matches!(r, Ok(Succeeded::Spent)))
            .count();
        assert_eq!((done, spent), (1, 7), "{results:?}");
        let now = stored(&store, &u.id).await.passkeys[0].clone();
        assert_eq!(
            (now.counter, now.backed_up, now.last_used_at),
            (2, true, Some(NOW))
        );
        // Judged against a counter the record no longer holds, or for a passkey gone.
        assert_eq!(
            succeed(&store, &u.id, None, Spend::Passkey(&asserted))
                .await
                .unwrap(),
            Succeeded::Spent
        );
        let gone = Asserted {
            passkey_id: PasskeyId::from("gone"),
            ..asserted.clone()
        };
        assert_eq!(
            succeed(&store, &u.id, None, Spend::Passkey(&gone))
                .await
                .unwrap(),
            Succeeded::Spent
        );
    }
}
