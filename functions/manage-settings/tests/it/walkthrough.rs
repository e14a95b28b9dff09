//! ABP Commercial's two-factor walkthrough, over the HTTP handler: the host forces a
//! tenant, the tenant admin is refused, the host makes it optional, the tenant
//! admin disables it, then makes it optional without letting users change it and
//! enables it for one user, and a second tenant turns SMS off for its users.

use crate::support;

use serde_json::{Value, json};
use support::World;
use twofa::testing::Client;
use twofa::user::User;

async fn account(w: &World, user: &User) -> Value {
    // Read afresh: an admin's change of the flag rotates the user's security stamp.
    let user = w.user(&user.id).await;
    let r = w
        .settings(
            "GET",
            "/account/two-factor",
            json!(null),
            Some(&w.token(&user).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn layer(v: &Value) -> (&str, &str, bool) {
    (
        v["behaviour"].as_str().unwrap_or(""),
        v["decided_by"].as_str().unwrap_or(""),
        v["enabled"].as_bool().unwrap_or(false),
    )
}

/// The walkthrough, step by step; each step checks what the users see.
async fn walkthrough(w: &World) {
    let host = w.token(&w.host_admin).await;
    let acme = w.token(&w.acme_admin).await;
    let globex = w.token(&w.globex_admin).await;
    let other_acme_user = w.acme_admin.clone();

    // 1. The host forces two-factor sign-in on acme.
    let r = w
        .settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "forced"}),
            Some(&host),
        )
        .await;
    assert_eq!(r.status, 200, "step 1: {:?}", r.body);
    assert_eq!(
        layer(&account(w, &w.acme_user).await),
        ("forced", "tenant_feature", true),
        "step 1"
    );
    assert_eq!(
        layer(&account(w, &w.globex_user).await),
        ("optional", "user", false),
        "step 1: globex untouched"
    );

    // 2. The acme admin cannot change the behaviour the host decides.
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&acme),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (409, "controlled_by_host"),
        "step 2"
    );
    assert_eq!(
        layer(&account(w, &w.acme_user).await),
        ("forced", "tenant_feature", true),
        "step 2"
    );

    // 3. The host leaves it to the tenant again.
    let r = w
        .settings(
            "PUT",
            "/tenants/acme/features/two-factor",
            json!({"behaviour": "optional"}),
            Some(&host),
        )
        .await;
    assert_eq!(r.status, 200, "step 3");
    assert_eq!(
        layer(&account(w, &w.acme_user).await),
        ("optional", "user", false),
        "step 3"
    );

    // 4. The acme admin disables it for the tenant.
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "disabled"}),
            Some(&acme),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["behaviour"]),
        (200, &json!("disabled")),
        "step 4"
    );
    assert_eq!(
        layer(&account(w, &w.acme_user).await),
        ("disabled", "tenant", false),
        "step 4"
    );

    // 5. Then makes it optional, with users not allowed to change their flag.
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"behaviour": "optional", "users_can_change": false}),
            Some(&acme),
        )
        .await;
    assert_eq!(r.status, 200, "step 5");
    let v = account(w, &w.acme_user).await;
    assert_eq!(
        (layer(&v), &v["can_change"]),
        (("optional", "user", false), &json!(false)),
        "step 5"
    );
    let r = w
        .settings(
            "PUT",
            "/account/two-factor",
            json!({"enabled": true}),
            Some(&w.token(&w.acme_user).await),
        )
        .await;
    assert_eq!(
        (r.status, r.error.as_str()),
        (403, "forbidden"),
        "step 5: the user may not change it"
    );

    // 6. And enables it for one user.
    let r = w
        .settings(
            "PUT",
            &format!("/users/{}/two-factor", w.acme_user.id),
            json!({"enabled": true}),
            Some(&acme),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["enabled"]),
        (200, &json!(true)),
        "step 6: {:?}",
        r.body
    );
    assert_eq!(
        layer(&account(w, &w.acme_user).await),
        ("optional", "user", true),
        "step 6"
    );
    assert_eq!(
        layer(&account(w, &other_acme_user).await),
        ("optional", "user", false),
        "step 6: only that user"
    );

    // 7. Globex turns SMS off for its users; acme and the host still offer it.
    let r = w
        .settings(
            "PUT",
            "/settings/two-factor",
            json!({"allowed_providers": ["authenticator", "email"]}),
            Some(&globex),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["allowed_providers"]),
        (200, &json!(["authenticator", "email"])),
        "step 7"
    );
    let v = account(w, &w.globex_user).await;
    assert_eq!(
        v["allowed_providers"],
        json!(["authenticator", "email"]),
        "step 7"
    );
    assert_eq!(v["providers"]["sms"]["allowed"], false, "step 7");
    assert_eq!(
        account(w, &w.acme_user).await["providers"]["sms"]["allowed"],
        true,
        "step 7: acme keeps sms"
    );
    assert_eq!(
        account(w, &w.host_user).await["providers"]["sms"]["allowed"],
        true,
        "step 7: the host keeps sms"
    );
}

#[tokio::test]
async fn the_abp_walkthrough_over_the_memory_store() {
    let w = World::new().await;
    walkthrough(&w).await;
}

#[tokio::test]
#[cfg_attr(
    no_dynamodb,
    ignore = "needs DynamoDB Local: DYNAMODB_ENDPOINT unset (infra/scripts/services.sh start)"
)]
async fn the_abp_walkthrough_on_dynamodb_local() {
    use std::sync::Arc;
    use twofa::store::dynamo::DynamoStore;

    let Some(endpoint) = twofa::testing::service_endpoint("DYNAMODB_ENDPOINT") else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&twofa::testing::emulator_sdk_config(&endpoint));
    // A table of its own: tenant names and emails are unique per table.
    let store = DynamoStore::new(
        client,
        format!(
            "manage-settings-walkthrough-{}",
            uuid::Uuid::new_v4().simple()
        ),
    );
    store
        .ensure_table()
        .await
        .expect("DynamoDB Local creates the table");
    // The memory store only counts nothing here: the core's store is DynamoDB's.
    let (_, counter, clock) = twofa::testing::memory_core(twofa::config::Config::default());
    let core = twofa::testing::core_over(
        Arc::new(store),
        clock.clone(),
        twofa::config::Config::default(),
    );
    let w = World::populate(twofa::testing::world::World::over(core, counter, clock)).await;
    walkthrough(&w).await;
}
