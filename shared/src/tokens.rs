//! Signed tokens (JWT). Access tokens are RS256 under an RSA key whose public half
//! the JWKS publishes ([`AccessKeys`]), so the APIs an application protects with
//! twofa verify them by themselves; two-factor and setup tokens are read by twofa
//! alone and stay HS256 under a key of their own. Each kind has its own algorithm,
//! key, `typ` and audience: a two-factor or setup token never stands in for an
//! access token, nor the reverse, whatever its header says. Expiry is checked
//! against the injected clock. The bodies that hand a token out are here; what a
//! user's tokens carry, and issuing them through the `Core`, are in `flows::session`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::crypto::{CryptoError, random_token};
use crate::ids::{SessionId, SignInId, UserId};
use crate::side::Side;

/// The kinds of token. Remember-browser tokens are not JWTs but random device
/// tokens with a server-side record (see [`crate::devices`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Signs requests to authenticated routes, twofa's and the applications'.
    Access,
    /// Carries a sign-in from the password step to the second factor.
    TwoFactor,
    /// Lets a user who must use 2FA but has no provider enrol one, and nothing else.
    Setup,
}

impl TokenKind {
    fn internal_audience(self) -> &'static str {
        match self {
            TokenKind::Access => "twofa:access",
            TokenKind::TwoFactor => "twofa:two_factor",
            TokenKind::Setup => "twofa:setup",
        }
    }
}

/// The `typ` header of an access token (RFC 9068), which no other kind carries.
const ACCESS_TYP: &str = "at+jwt";

/// The OAuth scope every access token carries.
pub const SCOPE: &str = "twofa";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: UserId,
    /// The user's tenant (its key); absent for a host user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Roles held when issued.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Authentication methods, RFC 8176 values (`pwd`, `otp`, `sms`, `mfa`…).
    #[serde(default)]
    pub amr: Vec<String>,
    /// `aal2` when a second factor was proven at sign-in, else `aal1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the user signed in (the session's start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<Timestamp>,
    /// OAuth scopes, space-separated.
    #[serde(default)]
    pub scope: String,
    /// Issued at.
    pub iat: Timestamp,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<Timestamp>,
    /// Expires at.
    pub exp: Timestamp,
    /// Audience: `TOKEN_AUDIENCE` for access tokens, the kind for the others.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Unique id.
    pub jti: String,
    /// When a second factor was last proven, for step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<Timestamp>,
    /// Access tokens: the session. Two-factor tokens: the sign-in attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// A keyed digest of the user's security stamp when issued: access and setup
    /// tokens die when the stamp changes (see `crate::api::authenticate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

impl Claims {
    /// The side the token's user belongs to.
    pub fn side(&self) -> Side {
        match &self.tenant {
            None => Side::Host,
            Some(key) => Side::Tenant(key.clone()),
        }
    }

    /// A two-factor token's sign-in.
    pub fn sign_in_id(&self) -> Option<SignInId> {
        self.sid.as_deref().map(SignInId::from)
    }

    /// An access token's session.
    pub fn session_id(&self) -> Option<SessionId> {
        self.sid.as_deref().map(SessionId::from)
    }
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
    /// The user's side.
    pub side: Option<Side>,
    /// Roles.
    pub roles: Vec<String>,
    /// Methods used, RFC 8176 values ([`crate::amr::rfc8176`]).
    pub amr: Vec<String>,
    /// When a second factor was proven.
    pub mfa_at: Option<Timestamp>,
    /// When the user signed in; now when absent.
    pub auth_time: Option<Timestamp>,
    /// The session (access tokens) or sign-in attempt (two-factor tokens).
    pub sid: Option<String>,
    /// The digest of the user's security stamp.
    pub stamp: Option<String>,
    /// An expiry not to pass: a token reissued after a stamp change keeps the old one's.
    pub not_after: Option<Timestamp>,
    /// The issuer to name when `TOKEN_ISSUER` is not set (the request's own URL;
    /// `twofa` without one).
    pub issuer: Option<String>,
}

/// One public key of the JWKS (RFC 7517), as relying APIs read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `RSA`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use", default = "sig")]
    pub use_: String,
    /// Always `RS256`.
    #[serde(default = "rs256")]
    pub alg: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The public exponent, base64url.
    pub e: String,
}

fn sig() -> String {
    "sig".into()
}

fn rs256() -> String {
    "RS256".into()
}

/// A JWK Set: what `GET /.well-known/jwks.json` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    fn rsa(n: &[u8], e: &[u8], kid: Option<String>) -> Self {
        let n = URL_SAFE_NO_PAD.encode(strip_zeros(n));
        let e = URL_SAFE_NO_PAD.encode(strip_zeros(e));
        // RFC 7638: the thumbprint is over the required members in this order.
        let kid = kid.unwrap_or_else(|| {
            let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
            URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                canonical.as_bytes(),
            ))
        });
        Self {
            kty: "RSA".into(),
            use_: sig(),
            alg: rs256(),
            kid,
            n,
            e,
        }
    }

    fn decoding_key(&self) -> Result<DecodingKey, CryptoError> {
        let bits = URL_SAFE_NO_PAD
            .decode(&self.n)
            .map(|n| strip_zeros(&n).len() * 8)
            .unwrap_or(0);
        // As ring verifies: 2048 to 8192 bits, an odd exponent of at least 3.
        let e = URL_SAFE_NO_PAD.decode(&self.e).unwrap_or_default();
        let e = strip_zeros(&e);
        let odd_e = e.last().is_some_and(|b| b & 1 == 1) && (e.len() > 1 || e[0] >= 3);
        if self.kty != "RSA"
            || self.alg != "RS256"
            || self.use_ != "sig"
            || self.kid.is_empty()
            || !(2048..=8192).contains(&bits)
            || !odd_e
        {
            return Err(CryptoError::InvalidKey(
                "an access-token key is an RSA signing key (use sig, RS256) of 2048 to 8192 bits with an odd exponent of 3 or more, and a kid",
            ));
        }
        DecodingKey::from_rsa_components(&self.n, &self.e)
            .map_err(|_| CryptoError::InvalidKey("the key's n and e are not base64url"))
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The RSA keys of access tokens: the one that signs, and the public halves of
/// earlier ones whose tokens may still be alive, which still verify and which the
/// JWKS keeps listing until the rotation's overlap is over (docs/deploy.md).
pub struct AccessKeys {
    signing: RsaKeyPair,
    jwks: Jwks,
    decoding: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeys")
            .field(
                "kids",
                &self.jwks.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AccessKeys {
    /// Signs with the RSA key `pkcs8` (DER, 2048 to 8192 bits), named by its RFC 7638
    /// thumbprint; `previous` are earlier keys' JWKS entries, which still verify.
    pub fn new(pkcs8: &[u8], previous: Vec<Jwk>) -> Result<Self, CryptoError> {
        let signing = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| {
            CryptoError::InvalidKey(
                "the access-token key is not an RSA key (PKCS#8 DER, 2048 to 8192 bits)",
            )
        })?;
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(signing.public());
        let current = Jwk::rsa(&public.n, &public.e, None);
        let mut keys = vec![current];
        for jwk in previous {
            if !keys.iter().any(|k| k.kid == jwk.kid) {
                keys.push(jwk);
            }
        }
        let decoding = keys
            .iter()
            .map(|k| Ok((k.kid.clone(), k.decoding_key()?)))
            .collect::<Result<_, CryptoError>>()?;
        Ok(Self {
            signing,
            jwks: Jwks { keys },
            decoding,
        })
    }

    /// The id of the signing key.
    pub fn kid(&self) -> &str {
        &self.jwks.keys[0].kid
    }

    /// The public keys: the signing one first.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        #[derive(Serialize)]
        struct AccessHeader<'a> {
            alg: &'static str,
            typ: &'static str,
            kid: &'a str,
        }
        let header = AccessHeader {
            alg: "RS256",
            typ: ACCESS_TYP,
            kid: self.kid(),
        };
        let json = |r: serde_json::Result<Vec<u8>>| {
            r.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                .map_err(|e| TokenError::Sign(e.to_string()))
        };
        let input = format!(
            "{}.{}",
            json(serde_json::to_vec(&header))?,
            json(serde_json::to_vec(claims))?
        );
        let mut signature = vec![0; self.signing.public().modulus_len()];
        self.signing
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| TokenError::Sign("RSA signing failed".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// Where access tokens say they come from and whom they are for.
#[derive(Debug, Clone)]
pub struct TokenNames {
    /// `TOKEN_ISSUER`: the issuer URL, without a trailing slash. Unset, each sign-in
    /// names the URL it was asked at, and twofa's own routes take any issuer on a
    /// token its key signed.
    pub issuer: Option<String>,
    /// `TOKEN_AUDIENCE` (`twofa`).
    pub audience: String,
}

impl Default for TokenNames {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: "twofa".into(),
        }
    }
}

/// Issues and checks tokens: access tokens with [`AccessKeys`], the others with an
/// HMAC key named by a key id so it can rotate (the current key signs, older keys
/// listed still verify).
pub struct Tokens {
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    access: AccessKeys,
    names: TokenNames,
    /// Lifetimes of each kind.
    pub lifetimes: TokenLifetimes,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("kid", &self.kid)
            .field("access", &self.access)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// The issuer of the tokens only twofa reads.
const INTERNAL_ISSUER: &str = "twofa";

impl Tokens {
    /// Two-factor and setup tokens are signed with `key` (at least 32 bytes) under
    /// `kid`; `previous` are older (kid, key) pairs that still verify. Access tokens
    /// with `access`.
    pub fn new(
        kid: &str,
        key: &[u8],
        previous: &[(String, Vec<u8>)],
        access: AccessKeys,
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
            access,
            names: TokenNames::default(),
            lifetimes,
        })
    }

    /// Names the issuer and audience of access tokens.
    pub fn named(mut self, names: TokenNames) -> Self {
        self.names = names;
        self
    }

    /// The issuer and audience of access tokens.
    pub fn names(&self) -> &TokenNames {
        &self.names
    }

    /// The public keys access tokens are signed with.
    pub fn jwks(&self) -> &Jwks {
        self.access.jwks()
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
        let access = kind == TokenKind::Access;
        let (aud, iss) = if access {
            // A request with no usable Host (none reaches API Gateway without one)
            // still signs in; its token names twofa as the internal tokens do.
            let iss = self
                .names
                .issuer
                .clone()
                .or(t.issuer)
                .unwrap_or_else(|| INTERNAL_ISSUER.to_string());
            (self.names.audience.clone(), iss)
        } else {
            (
                kind.internal_audience().to_string(),
                INTERNAL_ISSUER.to_string(),
            )
        };
        let claims = Claims {
            sub: t.user_id,
            tenant: t.side.as_ref().and_then(|s| s.tenant()).map(str::to_string),
            roles: t.roles,
            amr: t.amr,
            acr: access.then(|| if t.mfa_at.is_some() { "aal2" } else { "aal1" }.to_string()),
            auth_time: access.then(|| t.auth_time.unwrap_or(now)),
            scope: SCOPE.to_string(),
            iat: now,
            nbf: access.then_some(now),
            exp: t.not_after.map_or(now + self.lifetime(kind), |cap| {
                cap.min(now + self.lifetime(kind))
            }),
            aud,
            iss,
            jti: random_token(12)?,
            mfa_at: t.mfa_at,
            sid: t.sid,
            stamp: t.stamp,
        };
        if access {
            return self.access.sign(&claims);
        }
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Checks a token of `kind` at `now`: for an access token RS256, `typ` `at+jwt`,
    /// a listed key, the audience and (when set) the issuer; for the others HS256
    /// under their key and their own audience; for both the expiry.
    pub fn verify(
        &self,
        kind: TokenKind,
        token: &str,
        now: Timestamp,
    ) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let access = kind == TokenKind::Access;
        let is_access_header = header.alg == Algorithm::RS256
            && header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TYP));
        if access != is_access_header || (!access && header.alg != Algorithm::HS256) {
            return Err(TokenError::Invalid("unexpected algorithm or type".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("no key id".into()))?;
        let keys = if access {
            &self.access.decoding
        } else {
            &self.decoding
        };
        let key = keys
            .get(&kid)
            .ok_or_else(|| TokenError::Invalid("unknown key id".into()))?;
        let mut v = Validation::new(header.alg);
        // Expiry is checked below against the injected clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims = ["exp", "aud", "iss", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if access {
            v.set_audience(&[&self.names.audience]);
            match &self.names.issuer {
                Some(iss) => v.set_issuer(&[iss]),
                None => v.iss = None,
            }
        } else {
            v.set_audience(&[kind.internal_audience()]);
            v.set_issuer(&[INTERNAL_ISSUER]);
        }
        let data = jsonwebtoken::decode::<Claims>(token, key, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if data.claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if data.claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(TokenError::Invalid("not yet valid".into()));
        }
        Ok(data.claims)
    }
}

/// The body of a successful sign-in. Its `Debug` names no token.
#[derive(Serialize)]
pub struct SignedIn {
    /// Always `signed_in`.
    pub status: &'static str,
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Renews the access token (`POST /token/refresh`); works once.
    pub refresh_token: String,
    /// Seconds until the session ends, whatever refreshes.
    pub refresh_expires_in: i64,
    /// A remember-browser token, when one was asked for and allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_browser_token: Option<String>,
}

/// A new access token for the client whose change just rotated its own stamp, in the
/// body of that change's answer (`access_token`, `expires_in`): the same sign-in,
/// second factor and expiry as the token it replaces, under the new stamp. Its
/// `Debug` names no token.
#[derive(Serialize)]
pub struct FreshAccess {
    /// The new access token.
    pub access_token: String,
    /// Seconds until it expires (no later than the one it replaces).
    pub expires_in: i64,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("expires_in", &self.expires_in)
            .field("remembers_browser", &self.remember_browser_token.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FreshAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshAccess")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The cookie a browser keeps its refresh token in, for the console: page script never
/// reads it, so a script injected into the page, or a later reader of its storage,
/// finds no token that outlives the access token in memory.
pub const REFRESH_COOKIE: &str = "twofa_refresh";

/// The routes a refresh cookie is sent to (`/token/refresh`, `/token/revoke`) and no
/// others: every other request of the browser goes without it.
pub const REFRESH_COOKIE_PATH: &str = "/token";

/// The `Set-Cookie` value for a refresh token, living as long as its session:
/// HttpOnly, Secure, SameSite=Strict (no other site's page makes the browser send
/// it), scoped to [`REFRESH_COOKIE_PATH`].
pub fn refresh_cookie(token: &str, max_age_seconds: i64) -> String {
    format!(
        "{REFRESH_COOKIE}={token}; Max-Age={max_age_seconds}; Path={REFRESH_COOKIE_PATH}; HttpOnly; Secure; SameSite=Strict"
    )
}

/// The `Set-Cookie` value that makes the browser drop its refresh cookie.
pub fn refresh_cookie_cleared() -> String {
    refresh_cookie("", 0)
}

impl SignedIn {
    /// The `Set-Cookie` value that keeps this sign-in's refresh token in the browser.
    pub fn refresh_cookie(&self) -> String {
        refresh_cookie(&self.refresh_token, self.refresh_expires_in)
    }
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
    use crate::testing::access_keys::{ACCESS_KEY, OTHER_ACCESS_KEY};
    use base64::engine::general_purpose::STANDARD;

    fn access_keys(b64: &str, previous: Vec<Jwk>) -> AccessKeys {
        AccessKeys::new(&STANDARD.decode(b64).unwrap(), previous).unwrap()
    }

    fn tokens_with(key: &[u8], access: AccessKeys) -> Tokens {
        Tokens::new("k1", key, &[], access, TokenLifetimes::default())
            .unwrap()
            .named(TokenNames {
                issuer: Some("https://auth.example.com".into()),
                audience: "twofa".into(),
            })
    }

    fn tokens(key: &[u8]) -> Tokens {
        tokens_with(key, access_keys(ACCESS_KEY, vec![]))
    }

    fn new(user: &str) -> NewToken {
        NewToken {
            user_id: user.into(),
            side: Some(Side::Tenant("acme".into())),
            amr: vec!["pwd".into()],
            ..Default::default()
        }
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        let p = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
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
    fn an_access_token_is_rs256_under_a_listed_kid_with_the_contracts_claims() {
        let t = tokens(&[7; 32]);
        let tok = t
            .issue(
                TokenKind::Access,
                NewToken {
                    mfa_at: Some(990),
                    auth_time: Some(990),
                    sid: Some("s1".into()),
                    amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                    ..new("u1")
                },
                1000,
            )
            .unwrap();
        let header = part(&tok, 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], t.jwks().keys[0].kid.as_str());
        let c = part(&tok, 1);
        for (claim, value) in [
            ("iss", serde_json::json!("https://auth.example.com")),
            ("aud", "twofa".into()),
            ("sub", "u1".into()),
            ("tenant", "acme".into()),
            ("sid", "s1".into()),
            ("auth_time", 990.into()),
            ("acr", "aal2".into()),
            ("scope", "twofa".into()),
            ("iat", 1000.into()),
            ("nbf", 1000.into()),
            ("exp", 1900.into()),
            ("amr", serde_json::json!(["pwd", "otp", "mfa"])),
        ] {
            assert_eq!(c[claim], value, "{claim}");
        }
        assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
        let host = t
            .issue(
                TokenKind::Access,
                NewToken {
                    side: Some(Side::Host),
                    ..new("u2")
                },
                1000,
            )
            .unwrap();
        assert!(part(&host, 1).get("tenant").is_none());
        assert_eq!(part(&host, 1)["acr"], "aal1");
    }

    #[test]
    fn the_jwks_lists_the_signing_key_first_with_no_private_part() {
        let t = tokens(&[7; 32]);
        let jwks = serde_json::to_value(t.jwks()).unwrap();
        let key = &jwks["keys"][0];
        let mut names: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(
            (
                key["kty"].as_str(),
                key["alg"].as_str(),
                key["use"].as_str()
            ),
            (Some("RSA"), Some("RS256"), Some("sig"))
        );
        assert_eq!(key["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(key["n"].as_str().unwrap())
                .unwrap()
                .len(),
            256
        );
    }

    #[test]
    fn a_previous_key_is_refused_unless_it_is_an_rsa_signing_key_ring_would_verify_with() {
        let good = tokens(&[7; 32]).jwks().keys[0].clone();
        assert!(
            AccessKeys::new(
                &STANDARD.decode(OTHER_ACCESS_KEY).unwrap(),
                vec![good.clone()]
            )
            .is_ok()
        );
        for bad in [
            Jwk {
                use_: "enc".into(),
                ..good.clone()
            },
            Jwk {
                e: "AQ".into(),
                ..good.clone()
            },
            Jwk {
                e: "AAE".into(),
                ..good.clone()
            },
            Jwk {
                e: "AQAA".into(),
                ..good.clone()
            },
            Jwk {
                n: URL_SAFE_NO_PAD.encode([0xff; 128]),
                ..good.clone()
            },
            Jwk {
                alg: "RS512".into(),
                ..good.clone()
            },
            Jwk {
                kid: String::new(),
                ..good.clone()
            },
        ] {
            assert!(
                AccessKeys::new(
                    &STANDARD.decode(OTHER_ACCESS_KEY).unwrap(),
                    vec![bad.clone()]
                )
                .is_err(),
                "{bad:?}"
            );
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
        let access = t.issue(TokenKind::Access, new("u1"), 1000).unwrap();
        assert!(matches!(
            t.verify(TokenKind::Access, &access, 1900),
            Err(TokenError::Expired)
        ));
        let stranger = tokens_with(&[7; 32], access_keys(OTHER_ACCESS_KEY, vec![]));
        assert!(stranger.verify(TokenKind::Access, &access, 1001).is_err());
    }

    #[test]
    fn alg_none_hs256_under_the_public_key_and_tampered_claims_are_refused() {
        let t = tokens(&[7; 32]);
        let tok = t.issue(TokenKind::Access, new("u1"), 1000).unwrap();
        let parts: Vec<&str> = tok.split('.').collect();
        let kid = t.jwks().keys[0].kid.clone();
        let none_header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#));
        assert!(
            t.verify(
                TokenKind::Access,
                &format!("{none_header}.{}.", parts[1]),
                1001
            )
            .is_err()
        );
        // HS256 keyed with the public key's text, the classic confusion.
        for public in [
            t.jwks().keys[0].n.clone(),
            serde_json::to_string(&t.jwks().keys[0]).unwrap(),
        ] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.clone());
            header.typ = Some("at+jwt".into());
            let claims: Claims = serde_json::from_value(part(&tok, 1)).unwrap();
            let forged = jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(public.as_bytes()),
            )
            .unwrap();
            assert!(t.verify(TokenKind::Access, &forged, 1001).is_err());
        }
        let mut claims = part(&tok, 1);
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
    fn an_access_token_of_another_audience_or_issuer_is_refused() {
        let t = tokens(&[7; 32]);
        let tok = t.issue(TokenKind::Access, new("u1"), 1000).unwrap();
        let other =
            |names: TokenNames| tokens_with(&[7; 32], access_keys(ACCESS_KEY, vec![])).named(names);
        let elsewhere = other(TokenNames {
            issuer: Some("https://other.example.com".into()),
            audience: "twofa".into(),
        });
        assert!(elsewhere.verify(TokenKind::Access, &tok, 1001).is_err());
        let for_another = other(TokenNames {
            issuer: Some("https://auth.example.com".into()),
            audience: "billing".into(),
        });
        assert!(for_another.verify(TokenKind::Access, &tok, 1001).is_err());
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
    fn an_older_key_still_verifies_after_rotation_and_stops_once_unlisted() {
        let old = tokens(&[7; 32]);
        let access = old.issue(TokenKind::Access, new("u1"), 1000).unwrap();
        let two_factor = old.issue(TokenKind::TwoFactor, new("u1"), 1000).unwrap();
        let old_jwk = old.jwks().keys[0].clone();
        let rotated = Tokens::new(
            "k2",
            &[9; 32],
            &[("k1".into(), vec![7; 32])],
            access_keys(OTHER_ACCESS_KEY, vec![old_jwk.clone()]),
            TokenLifetimes::default(),
        )
        .unwrap()
        .named(old.names().clone());
        assert_eq!(
            rotated
                .verify(TokenKind::Access, &access, 1001)
                .unwrap()
                .sub,
            "u1"
        );
        assert!(
            rotated
                .verify(TokenKind::TwoFactor, &two_factor, 1001)
                .is_ok()
        );
        let kids: Vec<&str> = rotated.jwks().keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(
            kids,
            [rotated.jwks().keys[0].kid.as_str(), old_jwk.kid.as_str()]
        );
        let header = part(
            &rotated.issue(TokenKind::Access, new("u1"), 1000).unwrap(),
            0,
        );
        assert_ne!(header["kid"], old_jwk.kid.as_str());
        let after = tokens_with(&[9; 32], access_keys(OTHER_ACCESS_KEY, vec![]));
        assert!(after.verify(TokenKind::Access, &access, 1001).is_err());
    }
}
