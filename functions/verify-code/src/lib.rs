//! verify-code
