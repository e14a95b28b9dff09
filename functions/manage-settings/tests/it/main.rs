//! manage-settings' tests, one binary (one link instead of one per file).

mod support;

mod access;
mod account;
mod admin;
mod binding;
mod lockout_settings;
mod password;
mod security_events;
mod user_admin;
mod walkthrough;
