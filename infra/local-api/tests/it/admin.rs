//! The first host admin: created once, never reset by a restart, no default password.

use local_api::admin::{SeedError, Seeded, random_password, seed_host_admin, seed_local_admin};
use twofa::config::Config;
use twofa::password::verify_password;
use twofa::side::Side;
use twofa::testing::fixtures::PASSWORD;
use twofa::testing::memory_core;
use twofa::user::Role;

#[tokio::test]
async fn seeding_twice_keeps_the_first_admin_and_its_password() {
    let (core, _, _) = memory_core(Config::default());
    let first = seed_host_admin(&core, "root@example.com", PASSWORD)
        .await
        .unwrap();
    let Seeded::Created(id) = first else {
        panic!("not created: {first:?}")
    };
    let again = seed_host_admin(&core, "ROOT@example.com", "another horse battery staple")
        .await
        .unwrap();
    assert_eq!(again, Seeded::Existed(id.clone()));
    let admin = core
        .store
        .user_by_email(&Side::Host, "root@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.roles, vec![Role::HostAdmin]);
    assert!(
        verify_password(PASSWORD, Some(&admin.password_hash))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_operator_command_refuses_a_weak_password_but_the_local_api_accepts_one() {
    let (core, _, _) = memory_core(Config::default());
    assert!(matches!(
        seed_host_admin(&core, "root@example.com", "admin").await,
        Err(SeedError::Password(_))
    ));
    assert!(matches!(
        seed_local_admin(&core, "root@example.com", "admin").await,
        Ok(Seeded::Created(_))
    ));
    assert!(matches!(
        seed_local_admin(&core, "not an email", PASSWORD).await,
        Err(SeedError::Email(_))
    ));
}

#[test]
fn generated_passwords_are_long_distinct_and_meet_the_rules() {
    let a = random_password();
    assert_ne!(a, random_password());
    assert!(twofa::password::Password::new(&a, 12, &[]).is_ok(), "{a}");
}
