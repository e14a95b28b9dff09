//! A wrapper that keeps secrets out of `Debug` output and therefore out of logs.

use std::fmt;

/// A value that must never be printed: a password, a key, a code, a token. Two
/// secrets compare in time that does not depend on where they differ, so a
/// comparison never tells an attacker how much of a guess was right.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<T: AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            self.0.as_ref(),
            other.0.as_ref(),
        ))
    }
}

impl<T: AsRef<[u8]>> Eq for Secret<T> {}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static SHORT_CIRCUIT_COMPARISONS: Cell<u32> = const { Cell::new(0) };
    }

    /// Bytes whose own `==` stops at the first difference, as `String`'s and `Vec`'s
    /// do, and counts how often it was asked.
    struct EarlyExit(Vec<u8>);
    impl PartialEq for EarlyExit {
        fn eq(&self, other: &Self) -> bool {
            SHORT_CIRCUIT_COMPARISONS.with(|c| c.set(c.get() + 1));
            self.0 == other.0
        }
    }
    impl AsRef<[u8]> for EarlyExit {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }

    #[test]
    fn secrets_compare_without_the_inner_short_circuiting_equality() {
        let a = Secret::new(EarlyExit(b"123456".to_vec()));
        let same = Secret::new(EarlyExit(b"123456".to_vec()));
        let other = Secret::new(EarlyExit(b"923456".to_vec()));
        assert!(a == same);
        assert!(a != other);
        assert_eq!(SHORT_CIRCUIT_COMPARISONS.with(Cell::get), 0);
    }

    #[test]
    fn secrets_of_different_lengths_are_not_equal() {
        assert!(Secret::new("12345".to_string()) != Secret::new("123456".to_string()));
        assert!(Secret::new(Vec::<u8>::new()) == Secret::new(Vec::new()));
    }

    #[test]
    fn a_secret_prints_as_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2".to_string())),
            "Secret([redacted])"
        );
    }
}
