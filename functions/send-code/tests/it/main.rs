//! send-code's tests, one binary (one link instead of one per file).

mod common;

mod confirmation;
mod forgot;
mod send_caps;
mod sign_in;
