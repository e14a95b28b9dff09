//! jsonwebtoken's cryptography on ring: HS256 (signing and checking the tokens only
//! twofa reads) and RS256 checking (access tokens, which [`crate::tokens`] signs
//! with ring's RSA key pair directly, parsed once), and nothing else.
//!
//! Its built-in providers (aws-lc or RustCrypto) choose the algorithm from the token
//! at run time, so either links ECDSA and EdDSA into every bootstrap though we only
//! ever use these two ([`crate::tokens`] checks `alg` against the kind of token
//! before verifying). Here any other algorithm is an error, never a panic.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::{hmac, signature as ring_signature};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes this jsonwebtoken's provider for the process; later calls do nothing.
/// [`crate::tokens::Tokens::new`] calls it, so no token is signed or checked before.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    // An Err means a provider is already installed; only this crate installs one.
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}

struct Hs256(hmac::Key);

fn hs256_key(algorithm: &Algorithm, family: AlgorithmFamily, secret: &[u8]) -> Result<Hs256> {
    if *algorithm != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if family != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret)))
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(hs256_key(
        algorithm,
        key.family(),
        key.as_bytes(),
    )?))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm == Algorithm::RS256 {
        return match key.kind() {
            DecodingKeyKind::RsaModulusExponent { n, e } => Ok(Box::new(Rs256Public(
                ring_signature::RsaPublicKeyComponents {
                    n: n.clone(),
                    e: e.clone(),
                },
            ))),
            _ => Err(ErrorKind::InvalidKeyFormat.into()),
        };
    }
    Ok(Box::new(hs256_key(
        algorithm,
        key.family(),
        key.try_get_as_bytes()?,
    )?))
}

/// An RSA public key (a JWKS entry's `n` and `e`), checking RS256 signatures.
struct Rs256Public(ring_signature::RsaPublicKeyComponents<Vec<u8>>);

impl Verifier<Vec<u8>> for Rs256Public {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        // 2048 bits at least: a shorter key is refused, whatever signed with it.
        self.0
            .verify(&ring_signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Rs256Public {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, msg).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    // ring compares the tags in constant time.
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        hmac::verify(&self.0, msg, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_signed_here_match_rfc_7515s_hs256_and_verify_only_unchanged() {
        install();
        // RFC 7515 appendix A.1: the example JWS, its key and its signature.
        let key = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let expected = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let signed = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(&key),
            Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(signed, expected);
        let decoding = DecodingKey::from_secret(&key);
        assert!(
            jsonwebtoken::crypto::verify(expected, input.as_bytes(), &decoding, Algorithm::HS256)
                .unwrap()
        );
        let tampered = input.replacen("eyJpc3Mi", "eyJpc3Ni", 1);
        assert!(
            !jsonwebtoken::crypto::verify(
                expected,
                tampered.as_bytes(),
                &decoding,
                Algorithm::HS256
            )
            .unwrap()
        );
    }

    #[test]
    fn an_empty_or_truncated_tag_does_not_verify() {
        install();
        let key = DecodingKey::from_secret(KEY);
        let full =
            jsonwebtoken::crypto::sign(b"x", &EncodingKey::from_secret(KEY), Algorithm::HS256)
                .unwrap();
        assert!(jsonwebtoken::crypto::verify(&full, b"x", &key, Algorithm::HS256).unwrap());
        for tag in ["", &full[..22], &full[..full.len() - 1]] {
            assert!(
                !jsonwebtoken::crypto::verify(tag, b"x", &key, Algorithm::HS256).unwrap_or(false),
                "{tag:?} verified"
            );
        }
    }

    #[test]
    fn any_other_algorithm_is_an_error_not_a_panic() {
        install();
        for alg in [
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            assert!(
                jsonwebtoken::crypto::sign(b"x", &EncodingKey::from_secret(KEY), alg).is_err(),
                "{alg:?} signed"
            );
            assert!(
                jsonwebtoken::crypto::verify("AAAA", b"x", &DecodingKey::from_secret(KEY), alg)
                    .is_err(),
                "{alg:?} verified"
            );
        }
    }
}
