//! End-to-end tests, one binary: the local API over HTTP, the event files, the route
//! table, faults, on DynamoDB Local and moto. `no_secrets_in_logs` stays a binary of
//! its own: it installs the process-wide log subscriber and sets the process
//! environment, which would reach every other test sharing its process.

mod account_lifecycle;
mod admin_operations;
mod client_input;
mod console;
mod deploy_defaults;
mod email_lookalikes;
mod events;
mod expiry;
mod fault_proxy;
mod faults;
mod forgot_timing;
mod module_map;
mod passkey_attacks;
mod passkeys;
mod permissions;
mod policy;
mod policy_cache_measure;
mod policy_races;
mod racing_guesses;
mod relying_party;
mod replay;
mod retried_writes;
mod retries_and_sweeps;
mod round_trips;
mod route_table;
mod second_factor;
mod send_limits;
mod sessions;
mod sign_in;
mod sign_out_race;
mod stamp_races;
