//! verify-code's tests, one binary (one link instead of one per file).

mod common;

mod confirm;
mod password_reset;
mod sign_in;
