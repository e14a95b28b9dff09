//! Small cryptographic helpers on ring, which the TLS of the SDK and of the Twilio
//! sender already brings: randomness, keyed hashes, constant-time comparison and
//! AES-256-GCM sealing.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// Why a cryptographic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A key had the wrong length or encoding.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A sealed value did not open: wrong key, or tampered with.
    #[error("sealed value did not open")]
    Open,
}

/// Makes ring rustls's provider for the process, for reqwest (the Twilio sender, and the
/// tests' HTTP clients), which is built without one of its own: its default would bring
/// aws-lc beside ring. Call it before building a `reqwest::Client`; later calls do nothing.
#[cfg(feature = "twilio")]
pub fn install_tls_provider() {
    // An Err means a provider is installed already: ring, since nothing else can be.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CryptoError::Random)?;
    Ok(buf)
}

/// A uniformly random integer in `0..bound`, by rejection sampling (no modulo bias).
pub fn random_below(bound: u32) -> Result<u32, CryptoError> {
    assert!(bound > 0);
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let mut b = [0u8; 4];
        SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| CryptoError::Random)?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok(v % bound);
        }
    }
}

/// A random token of `n` bytes, base64url without padding.
pub fn random_token(n: usize) -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(n)?))
}

/// An RSA private key given in configuration: base64 of its PKCS#8 DER, or PEM
/// (`-----BEGIN PRIVATE KEY-----`). Whether it is an RSA key is the caller's check.
pub fn decode_pkcs8(text: &str) -> Result<Vec<u8>, CryptoError> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(&body)
        .or_else(|_| URL_SAFE_NO_PAD.decode(&body))
        .map_err(|_| CryptoError::InvalidKey("not base64 or PEM"))
}

/// Decodes a key given in configuration as base64 (standard or url-safe) and checks its length.
pub fn decode_key(text: &str, min_len: usize) -> Result<Vec<u8>, CryptoError> {
    let t = text.trim();
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
        .map_err(|_| CryptoError::InvalidKey("not base64"))?;
    if bytes.len() < min_len {
        return Err(CryptoError::InvalidKey("too short"));
    }
    Ok(bytes)
}

/// A server-side HMAC-SHA-256 key: codes, recovery codes and device tokens are stored
/// only as keyed hashes under it, so a leaked table does not give them away.
#[derive(Clone)]
pub struct HashKey(hmac::Key);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey([redacted])")
    }
}

impl HashKey {
    /// A key from raw bytes (at least 32).
    pub fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() < 32 {
            return Err(CryptoError::InvalidKey("HMAC key shorter than 32 bytes"));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }
    /// A fresh random key, for local runs and tests.
    pub fn random() -> Result<Self, CryptoError> {
        Self::new(&random_bytes(32)?)
    }
    /// The keyed hash of the parts, each length-prefixed so that no two inputs collide.
    pub fn hash(&self, parts: &[&str]) -> String {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        URL_SAFE_NO_PAD.encode(self.mac(&parts))
    }
    /// The HMAC-SHA-256 of the parts as bytes, each length-prefixed as in
    /// [`HashKey::hash`] (which is its base64url text): for a tag carried inside
    /// a token, where the parts are not all text.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// AES-256-GCM under a configured key, for secrets we must read back (TOTP keys).
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// A key from exactly 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| CryptoError::InvalidKey("AES-256-GCM key must be 32 bytes"))?;
        Ok(Self(LessSafeKey::new(key)))
    }
    /// A fresh random key, for local runs and tests.
    pub fn random() -> Result<Self, CryptoError> {
        Self::new(&random_bytes(32)?)
    }
    /// Encrypts `plain`, binding it to `context` (e.g. the user id) so a sealed value
    /// copied to another record does not open. Output: base64(nonce || ciphertext || tag).
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, CryptoError> {
        let nonce_bytes = random_bytes(NONCE_LEN)?;
        let nonce =
            Nonce::try_assume_unique_for_key(&nonce_bytes).map_err(|_| CryptoError::Random)?;
        let mut in_out = plain.to_vec();
        self.0
            .seal_in_place_append_tag(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| CryptoError::Open)?;
        let mut out = nonce_bytes;
        out.extend_from_slice(&in_out);
        Ok(STANDARD.encode(out))
    }
    /// Decrypts what [`SealKey::seal`] produced with the same context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Secret<Vec<u8>>, CryptoError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| CryptoError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce_bytes, ct) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| CryptoError::Open)?;
        let mut in_out = ct.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| CryptoError::Open)?;
        Ok(Secret::new(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let k = SealKey::random().unwrap();
        let sealed = k.seal(b"totp key", "user-1").unwrap();
        assert_eq!(k.open(&sealed, "user-1").unwrap().expose(), b"totp key");
        assert!(k.open(&sealed, "user-2").is_err());
        assert!(SealKey::random().unwrap().open(&sealed, "user-1").is_err());
    }

    #[test]
    fn keyed_hashes_differ_by_key_and_by_part_boundaries() {
        let a = HashKey::random().unwrap();
        let b = HashKey::random().unwrap();
        assert_eq!(a.hash(&["x", "y"]), a.hash(&["x", "y"]));
        assert_ne!(a.hash(&["x", "y"]), b.hash(&["x", "y"]));
        assert_ne!(a.hash(&["xy", ""]), a.hash(&["x", "y"]));
    }

    #[test]
    fn a_keyed_hash_is_the_length_prefixed_hmac_it_always_was() {
        // Stored hashes (codes, devices) must read back the same across versions:
        // HMAC-SHA-256 under the key of be64(len) ‖ part for each part, base64url.
        let k = HashKey::new(&[7; 32]).unwrap();
        assert_eq!(
            k.hash(&["a", "bc"]),
            "Qw5GeXo5bh8U9yQ-t89ez1LjPiECK5_X_QNmPL6oucY"
        );
        assert_eq!(
            k.hash(&["a", "bc"]),
            URL_SAFE_NO_PAD.encode(k.mac(&[b"a", b"bc"]))
        );
    }

    #[test]
    fn random_below_stays_in_range() {
        for _ in 0..1000 {
            assert!(random_below(10).unwrap() < 10);
        }
    }
}
