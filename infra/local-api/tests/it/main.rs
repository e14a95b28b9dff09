//! The local API's tests, one binary (one link instead of one per file).

mod admin;
mod admin_cli;
mod store_target;
