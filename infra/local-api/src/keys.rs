//! Making the keys twofa signs and hashes with: the local API's at start (unless
//! given some) and `twofa-admin keys` for a deployment's secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::EncodePrivateKey;

/// Bits of the RSA key access tokens are signed with: what API Gateway's JWT
/// authorizer and every JWT library take, and the smallest ring verifies.
pub const RSA_BITS: usize = 2048;

/// A new RSA key for access tokens, as PKCS#8 DER.
pub fn access_token_key() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)?;
    Ok(key.to_pkcs8_der()?.as_bytes().to_vec())
}

/// A deployment's keys, as the JSON of its Secrets Manager secret (docs/deploy.md):
/// the access-token RSA key, and 32 random bytes for each of the others, base64.
pub fn secret_json() -> Result<String, Box<dyn std::error::Error>> {
    let random = || -> Result<String, Box<dyn std::error::Error>> {
        Ok(STANDARD.encode(twofa::crypto::random_bytes(32)?))
    };
    Ok(serde_json::json!({
        "ACCESS_TOKEN_SIGNING_KEY": STANDARD.encode(access_token_key()?),
        "JWT_SIGNING_KEY": random()?,
        "CODE_HMAC_KEY": random()?,
        "TOTP_ENCRYPTION_KEY": random()?,
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofa::tokens::AccessKeys;

    #[test]
    fn a_made_key_signs_access_tokens_and_the_secret_holds_every_key() {
        let der = access_token_key().unwrap();
        let keys = AccessKeys::new(&der, Vec::new()).unwrap();
        assert_eq!(keys.jwks().keys.len(), 1);
        let secret: serde_json::Value = serde_json::from_str(&secret_json().unwrap()).unwrap();
        let env: std::collections::HashMap<String, String> = secret
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        assert!(twofa::app::Keys::from_env(&env, Default::default()).is_ok());
    }
}
