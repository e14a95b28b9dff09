//! Signed tokens (JWT, HS256 only). Each kind has its own audience, so a two-factor
//! or setup token can never stand in for an access token, nor the reverse. Expiry is
//! checked against the injected clock. The bodies that hand a token out are here;
//! what a user's tokens carry, and issuing them through the `Core`, are in
//! `flows::session`.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::amr::Amr;
use crate::clock::Timestamp;
use crate::crypto::{CryptoError, random_token};
use crate::ids::{SignInId, UserId};

/// The kinds of token. Remember-browser tokens are not JWTs but random device
/// tokens with a server-side record (see [`crate::devices`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Signs requests to authenticated routes.
    Access,
    /// Carries a sign-in from the password step to the second factor.
    TwoFactor,
    /// Lets a user who must use 2FA but has no provider enrol one, and nothing else.
    Setup,
}

impl TokenKind {
    fn audience(self) -> &'static str {
        match self {
            TokenKind::Access => "twofa:access",
            TokenKind::TwoFactor => "twofa:two_factor",
            TokenKind::Setup => "twofa:setup",
        }
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: UserId,
    /// The key of the user's side (`host` or `t:<tenant>`); the claim keeps its name.
    pub scope: String,
    /// Roles held when issued.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Authentication methods (RFC 8176): `pwd`, then `otp`, `sms`, `email`, `rec`, `device`…
    #[serde(default)]
    pub amr: Vec<Amr>,
    /// Issued at.
    pub iat: Timestamp,
    /// Expires at.
    pub exp: Timestamp,
    /// Audience: the token kind.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Unique id.
    pub jti: String,
    /// When a second factor was last proven, for step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<Timestamp>,
    /// For two-factor tokens: the sign-in attempt it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SignInId>,
    /// A keyed digest of the user's security stamp when issued: access and setup
    /// tokens die when the stamp changes (see `crate::api::authenticate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

/// Why a token was refused. Callers answer 401 for every variant.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, wrong kind, unknown key, malformed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Signing failed (a bug).
    #[error("signing failed: {0}")]
    Sign(String),
    /// No randomness for the token id.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    /// Access tokens (default 15 minutes).
    pub access: i64,
    /// Two-factor tokens (5 minutes).
    pub two_factor: i64,
    /// Setup tokens (10 minutes).
    pub setup: i64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            access: 900,
            two_factor: 300,
            setup: 600,
        }
    }
}

/// What goes into a new token besides the standard claims.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// The user id.
    pub user_id: UserId,
    /// The scope key.
    pub scope: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Methods used.
    pub amr: Vec<Amr>,
    /// When a second factor was proven.
    pub mfa_at: Option<Timestamp>,
    /// The sign-in attempt (two-factor tokens).
    pub sid: Option<SignInId>,
    /// The digest of the user's security stamp.
    pub stamp: Option<String>,
    /// An expiry not to pass: a token reissued after a stamp change keeps the old one's.
    pub not_after: Option<Timestamp>,
}

/// Issues and checks tokens with an HMAC key, named by a key id so keys can rotate:
/// the current key signs, older keys listed still verify.
pub struct Tokens {
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    issuer: String,
    /// Lifetimes of each kind.
    pub lifetimes: TokenLifetimes,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Signs with `key` (at least 32 bytes) under `kid`; `previous` are older (kid, key)
    /// pairs that still verify.
    pub fn new(
        kid: &str,
        key: &[u8],
        previous: &[(String, Vec<u8>)],
        lifetimes: TokenLifetimes,
    ) -> Result<Self, CryptoError> {
        if key.len() < 32 {
            return Err(CryptoError::InvalidKey(
                "the JWT signing key must have at least 32 bytes",
            ));
        }
        crate::jwt_crypto::install();
        let mut decoding = HashMap::new();
        for (k, bytes) in previous {
            decoding.insert(k.clone(), DecodingKey::from_secret(bytes));
        }
        decoding.insert(kid.to_string(), DecodingKey::from_secret(key));
        Ok(Self {
            kid: kid.to_string(),
            encoding: EncodingKey::from_secret(key),
            decoding,
            issuer: "twofa".to_string(),
            lifetimes,
        })
    }

    /// The lifetime of a kind.
    pub fn lifetime(&self, kind: TokenKind) -> i64 {
        match kind {
            TokenKind::Access => self.lifetimes.access,
            TokenKind::TwoFactor => self.lifetimes.two_factor,
            TokenKind::Setup => self.lifetimes.setup,
        }
    }

    /// Issues a token of `kind` at `now`.
    pub fn issue(
        &self,
        kind: TokenKind,
        t: NewToken,
        now: Timestamp,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            sub: t.user_id,
            scope: t.scope,
            roles: t.roles,
            amr: t.amr,
            iat: now,
            exp: t.not_after.map_or(now + self.lifetime(kind), |cap| {
                cap.min(now + self.lifetime(kind))
            }),
            aud: kind.audience().to_string(),
            iss: self.issuer.clone(),
            jti: random_token(12)?,
            mfa_at: t.mfa_at,
            sid: t.sid,
            stamp: t.stamp,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Checks a token of `kind` at `now`: signature by a known key, HS256 only, audience, issuer, expiry.
    pub fn verify(
        &self,
        kind: TokenKind,
        token: &str,
        now: Timestamp,
    ) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid("unexpected algorithm".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("no key id".into()))?;
        let key = self
            .decoding
            .get(&kid)
            .ok_or_else(|| TokenError::Invalid("unknown key id".into()))?;
        let mut v = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the injected clock.
        v.validate_exp = false;
        v.required_spec_claims = ["exp", "aud", "iss", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.set_audience(&[kind.audience()]);
        v.set_issuer(&[&self.issuer]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if data.claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

/// The body of a successful sign-in.
#[derive(Debug, Serialize)]
pub struct SignedIn {
    /// Always `signed_in`.
    pub status: &'static str,
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A remember-browser token, when one was asked for and allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_browser_token: Option<String>,
}

/// A new access token for the client whose change just rotated its own stamp, in the
/// body of that change's answer (`access_token`, `expires_in`): the same sign-in,
/// second factor and expiry as the token it replaces, under the new stamp.
#[derive(Debug, Serialize)]
pub struct FreshAccess {
    /// The new access token.
    pub access_token: String,
    /// Seconds until it expires (no later than the one it replaces).
    pub expires_in: i64,
}

/// The `Set-Cookie` value for a remember-browser token: HttpOnly, Secure, SameSite=Strict.
pub fn remember_cookie(cookie_name: &str, token: &str, max_age_seconds: i64) -> String {
    format!(
        "{cookie_name}={token}; Max-Age={max_age_seconds}; Path=/; HttpOnly; Secure; SameSite=Strict"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn tokens(key: &[u8]) -> Tokens {
        Tokens::new("k1", key, &[], TokenLifetimes::default()).unwrap()
    }

    fn new(user: &str) -> NewToken {
        NewToken {
            user_id: user.into(),
            scope: "host".into(),
            amr: vec![Amr::Pwd],
            ..Default::default()
        }
    }

    #[test]
    fn a_token_verifies_as_its_own_kind_only() {
        let t = tokens(&[7; 32]);
        let kinds = [TokenKind::Access, TokenKind::TwoFactor, TokenKind::Setup];
        for issued in kinds {
            let tok = t.issue(issued, new("u1"), 1000).unwrap();
            for checked in kinds {
                assert_eq!(
                    t.verify(checked, &tok, 1001).is_ok(),
                    issued == checked,
                    "{issued:?} checked as {checked:?}"
                );
            }
        }
    }

    #[test]
    fn expired_tokens_and_other_keys_are_refused() {
        let t = tokens(&[7; 32]);
        let tok = t.issue(TokenKind::TwoFactor, new("u1"), 1000).unwrap();
        assert!(t.verify(TokenKind::TwoFactor, &tok, 1299).is_ok());
        assert!(matches!(
            t.verify(TokenKind::TwoFactor, &tok, 1300),
            Err(TokenError::Expired)
        ));
        assert!(
            tokens(&[8; 32])
                .verify(TokenKind::TwoFactor, &tok, 1001)
                .is_err()
        );
    }

    #[test]
    fn alg_none_and_tampered_claims_are_refused() {
        let t = tokens(&[7; 32]);
        let tok = t.issue(TokenKind::Access, new("u1"), 1000).unwrap();
        let parts: Vec<&str> = tok.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        assert!(
            t.verify(
                TokenKind::Access,
                &format!("{none_header}.{}.", parts[1]),
                1001
            )
            .is_err()
        );
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "admin".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(
            t.verify(
                TokenKind::Access,
                &format!("{}.{forged}.{}", parts[0], parts[2]),
                1001
            )
            .is_err()
        );
        assert!(t.verify(TokenKind::Access, "not a token", 1001).is_err());
    }

    #[test]
    fn a_token_never_outlives_the_expiry_it_is_capped_at() {
        let t = tokens(&[7; 32]);
        let capped = t
            .issue(
                TokenKind::Access,
                NewToken {
                    not_after: Some(1100),
                    ..new("u1")
                },
                1000,
            )
            .unwrap();
        assert_eq!(
            t.verify(TokenKind::Access, &capped, 1001).unwrap().exp,
            1100
        );
        let uncapped = t
            .issue(
                TokenKind::Access,
                NewToken {
                    not_after: Some(5000),
                    ..new("u1")
                },
                1000,
            )
            .unwrap();
        assert_eq!(
            t.verify(TokenKind::Access, &uncapped, 1001).unwrap().exp,
            1900
        );
    }

    #[test]
    fn an_older_key_still_verifies_after_rotation() {
        let old = tokens(&[7; 32]);
        let tok = old.issue(TokenKind::Access, new("u1"), 1000).unwrap();
        let rotated = Tokens::new(
            "k2",
            &[9; 32],
            &[("k1".into(), vec![7; 32])],
            TokenLifetimes::default(),
        )
        .unwrap();
        assert_eq!(
            rotated.verify(TokenKind::Access, &tok, 1001).unwrap().sub,
            "u1"
        );
        let header =
            jsonwebtoken::decode_header(rotated.issue(TokenKind::Access, new("u1"), 1000).unwrap())
                .unwrap();
        assert_eq!(header.kid.as_deref(), Some("k2"));
    }
}
