//! send-code
