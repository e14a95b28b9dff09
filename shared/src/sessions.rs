//! Signed-in sessions and their refresh tokens (API.md, "Sessions and refresh
//! tokens"). A sign-in starts a session; its refresh token renews the access token
//! and is replaced by a new one each time (rotation). The session is stored with the
//! keyed hash of its current refresh token only, bound to the user's security stamp,
//! so it can be listed and ended, and dies when the user's security settings change.
//!
//! A refresh token is `rt1.<user_id>.<session_id>.<generation>.<secret>`. The
//! generation counts the rotations, so a token presented again after it was rotated
//! is told apart from one never issued: its generation is older than the session's
//! (reuse, which ends the session, RFC 9700 4.14). The secret is 16 random bytes and
//! a 16-byte tag, the HMAC under the server's [`HashKey`] of everything before it, so
//! a token twofa never issued (made up from a `sid` an access token shows) is refused
//! by [`parse_refresh_token`] without a store read, and cannot end anyone's session.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::amr::{Acr, Amr};
use crate::clock::Timestamp;
use crate::crypto::{CryptoError, HashKey, constant_time_eq, constant_time_eq_bytes, random_bytes};
use crate::ids::{SessionId, UserId};
use crate::secret::Secret;

/// How many sessions one user may have at once; starting another forgets the
/// oldest. As for remembered browsers ([`crate::devices::MAX_PER_USER`]): without a
/// bound every sign-in would add a record until it expired, and listing and ending
/// them would cost as much as the history; with it they cost the same whatever the
/// history (and fit one batch).
pub const MAX_PER_USER: usize = 20;

/// A signed-in session as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Whose session.
    pub user_id: UserId,
    /// Random id: the `sid` of its access tokens, shown in the session list.
    pub session_id: SessionId,
    /// How many times its refresh token was rotated: the generation of the one
    /// refresh token that works now.
    pub generation: u64,
    /// Keyed hash of the refresh token that works now ([`refresh_token_hash`]).
    pub refresh_hash: String,
    /// The user's security stamp when the session started (or was restamped by its
    /// own stamp change).
    pub security_stamp: String,
    /// How the sign-in that started it was made; its access tokens carry them.
    pub amr: Vec<Amr>,
    /// When the user signed in (`auth_time`).
    pub auth_time: Timestamp,
    /// When the second factor was proved, if it was: then `amr` holds it.
    pub mfa_at: Option<Timestamp>,
    /// When the session started.
    pub created_at: Timestamp,
    /// The last sign-in or refresh.
    pub last_used_at: Timestamp,
    /// When it stops working, whatever its use: the refresh lifetime from sign-in.
    pub expires_at: Timestamp,
    /// The client's address when it started, for the session list.
    pub ip: Option<String>,
    /// The client's User-Agent when it started, for the session list.
    pub user_agent: Option<String>,
    /// The id of the last rotation written, so that a retried rotation whose
    /// answer was lost knows the write as its own.
    pub rotation_id: String,
}

// The refresh hash is a keyed hash (no token can be made from it) but is left out
// anyway: logs have no use for it.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("generation", &self.generation)
            .field("refresh_hash", &"[redacted]")
            .field("security_stamp", &"[redacted]")
            .field("amr", &self.amr)
            .field("auth_time", &self.auth_time)
            .field("mfa_at", &self.mfa_at)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("expires_at", &self.expires_at)
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("rotation_id", &self.rotation_id)
            .finish()
    }
}

impl Session {
    /// Whether the session still works at `now` for a user whose stamp is `stamp`:
    /// not expired, and started (or restamped) under that stamp.
    pub fn is_live(&self, stamp: &str, now: Timestamp) -> bool {
        self.expires_at > now && constant_time_eq(&self.security_stamp, stamp)
    }

    /// Whether `token` is this session's current refresh token, for a user whose
    /// stamp is `stamp`, at `now`.
    pub fn accepts(&self, key: &HashKey, token: &str, stamp: &str, now: Timestamp) -> bool {
        self.is_live(stamp, now)
            && constant_time_eq(&self.refresh_hash, &refresh_token_hash(key, token))
    }

    /// The assurance level its access tokens claim (`acr`).
    pub fn acr(&self) -> Acr {
        Acr::of(&self.amr)
    }
}

/// What a refresh token names, once its tag verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Whose session.
    pub user_id: UserId,
    /// Which session.
    pub session_id: SessionId,
    /// Which of its rotations issued it.
    pub generation: u64,
}

const PREFIX: &str = "rt1";
const RANDOM_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// The secret's text: 32 bytes in base64url without padding.
const SECRET_TEXT_LEN: usize = 43;
/// Longer than any token made here (`rt1`, a 36-character user id, a session id of
/// at most 64, 20 digits, 43, four dots: 170): anything longer is refused unread.
const MAX_TOKEN_LEN: usize = 200;

/// The tag of a refresh token: the first [`TAG_LEN`] bytes of the HMAC of its parts
/// and its random bytes, under the label that keeps it apart from every other keyed
/// hash made with the same key.
fn tag(
    key: &HashKey,
    user_id: &str,
    session_id: &str,
    generation: &str,
    random: &[u8],
) -> [u8; TAG_LEN] {
    let mac = key.mac(&[
        b"refresh_token",
        user_id.as_bytes(),
        session_id.as_bytes(),
        generation.as_bytes(),
        random,
    ]);
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&mac[..TAG_LEN]);
    out
}

/// A new refresh token for generation `generation` of a session. Only its hash
/// ([`refresh_token_hash`]) is stored.
pub fn new_refresh_token(
    key: &HashKey,
    user_id: &UserId,
    session_id: &SessionId,
    generation: u64,
) -> Result<Secret<String>, CryptoError> {
    let generation = generation.to_string();
    let mut secret = random_bytes(RANDOM_LEN)?;
    let tag = tag(key, user_id, session_id, &generation, &secret);
    secret.extend_from_slice(&tag);
    Ok(Secret::new(format!(
        "{PREFIX}.{user_id}.{session_id}.{generation}.{}",
        URL_SAFE_NO_PAD.encode(&secret)
    )))
}

/// What `token` names, if it is a refresh token made under `key`: the right shape
/// (exactly five parts, a user id as ids are made, a session id, a generation in
/// plain decimal, a secret of the right length) and a tag that verifies. Anything
/// else, whatever it holds, is `None`.
pub fn parse_refresh_token(key: &HashKey, token: &str) -> Option<RefreshToken> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(PREFIX), Some(user), Some(session), Some(generation), Some(secret), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let user_id = UserId::parse(user)?;
    let session_id = SessionId::parse(session)?;
    // Plain decimal only, as `u64::to_string` writes it: no sign, no leading zero,
    // so one token has one text.
    if !generation.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parsed: u64 = generation.parse().ok()?;
    if parsed.to_string() != generation || secret.len() != SECRET_TEXT_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(secret).ok()?;
    if bytes.len() != RANDOM_LEN + TAG_LEN {
        return None;
    }
    let (random, presented) = bytes.split_at(RANDOM_LEN);
    let expected = tag(key, &user_id, &session_id, generation, random);
    constant_time_eq_bytes(&expected, presented).then_some(RefreshToken {
        user_id,
        session_id,
        generation: parsed,
    })
}

/// The keyed hash a refresh token is stored as. The token names its user, session
/// and generation, so the hash is bound to them.
pub fn refresh_token_hash(key: &HashKey, token: &str) -> String {
    key.hash(&["refresh_token_hash", token])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const USER: &str = "0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e";

    fn ids() -> (UserId, SessionId) {
        (UserId::from(USER), SessionId::random().unwrap())
    }

    fn session(key: &HashKey, token: &str) -> Session {
        let (user_id, session_id) = ids();
        Session {
            user_id,
            session_id,
            generation: 0,
            refresh_hash: refresh_token_hash(key, token),
            security_stamp: "s1".into(),
            amr: vec![Amr::Pwd, Amr::Otp],
            auth_time: 0,
            mfa_at: Some(0),
            created_at: 0,
            last_used_at: 0,
            expires_at: 100,
            ip: None,
            user_agent: None,
            rotation_id: String::new(),
        }
    }

    /// `token` with its part `i` (0 to 4) replaced by `part`.
    fn with_part(token: &str, i: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[i] = part;
        parts.join(".")
    }

    #[test]
    fn a_refresh_token_names_its_user_session_and_generation() {
        let key = HashKey::random().unwrap();
        let (user_id, session_id) = ids();
        for generation in [0, 1, 41, u64::MAX] {
            let token = new_refresh_token(&key, &user_id, &session_id, generation).unwrap();
            assert!(token.expose().len() <= MAX_TOKEN_LEN);
            assert_eq!(
                parse_refresh_token(&key, token.expose()),
                Some(RefreshToken {
                    user_id: user_id.clone(),
                    session_id: session_id.clone(),
                    generation,
                })
            );
        }
        let a = new_refresh_token(&key, &user_id, &session_id, 0).unwrap();
        let b = new_refresh_token(&key, &user_id, &session_id, 0).unwrap();
        assert_ne!(a.expose(), b.expose(), "each token is random");
    }

    #[test]
    fn a_refresh_token_with_any_part_changed_or_under_another_key_is_refused() {
        let key = HashKey::random().unwrap();
        let (user_id, session_id) = ids();
        let token = new_refresh_token(&key, &user_id, &session_id, 7).unwrap();
        let token = token.expose();
        let other_user = UserId::random();
        let other_session = SessionId::random().unwrap();
        let secret = token.rsplit('.').next().unwrap();
        let mut flipped = URL_SAFE_NO_PAD.decode(secret).unwrap();
        flipped[RANDOM_LEN] ^= 1;
        let mut random_flipped = URL_SAFE_NO_PAD.decode(secret).unwrap();
        random_flipped[0] ^= 1;
        for bad in [
            with_part(token, 1, &other_user),
            with_part(token, 2, &other_session),
            with_part(token, 3, "8"),
            with_part(token, 3, "6"),
            with_part(token, 4, &URL_SAFE_NO_PAD.encode(&flipped)),
            with_part(token, 4, &URL_SAFE_NO_PAD.encode(&random_flipped)),
            with_part(token, 0, "rt2"),
        ] {
            assert_eq!(parse_refresh_token(&key, &bad), None, "{bad}");
        }
        let other_key = HashKey::random().unwrap();
        assert_eq!(parse_refresh_token(&other_key, token), None);
    }

    #[test]
    fn malformed_refresh_tokens_are_refused() {
        let key = HashKey::random().unwrap();
        let (user_id, session_id) = ids();
        let good = new_refresh_token(&key, &user_id, &session_id, 7).unwrap();
        let good = good.expose();
        let secret = good.rsplit('.').next().unwrap();
        let bad_tokens = [
            String::new(),
            "rt1".into(),
            "rt1....".into(),
            format!("{good}."),
            format!(".{good}"),
            format!("{good}.x"),
            format!("{good} "),
            good.to_uppercase(),
            with_part(good, 1, &user_id.to_uppercase()),
            with_part(good, 1, "u1"),
            with_part(good, 2, ""),
            with_part(good, 2, "a b"),
            with_part(good, 3, "+7"),
            with_part(good, 3, "-7"),
            with_part(good, 3, "07"),
            with_part(good, 3, " 7"),
            with_part(good, 3, ""),
            with_part(good, 3, "18446744073709551616"),
            with_part(good, 4, &secret[..42]),
            with_part(good, 4, &format!("{secret}A")),
            with_part(good, 4, &format!("{secret}=")),
            with_part(good, 4, &secret.replace(|_: char| true, "*")),
            format!("{good}{}", "A".repeat(MAX_TOKEN_LEN)),
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".into(),
        ];
        for bad in bad_tokens {
            assert_eq!(parse_refresh_token(&key, &bad), None, "{bad:?}");
        }
        assert!(parse_refresh_token(&key, good).is_some());
    }

    #[test]
    fn a_session_accepts_its_current_token_until_expiry_or_a_stamp_change() {
        let key = HashKey::random().unwrap();
        let (user_id, session_id) = ids();
        let token = new_refresh_token(&key, &user_id, &session_id, 0).unwrap();
        let token = token.expose();
        let s = session(&key, token);
        assert!(s.accepts(&key, token, "s1", 99));
        assert!(!s.accepts(&key, token, "s1", 100));
        assert!(!s.accepts(&key, token, "s2", 99));
        let next = new_refresh_token(&key, &user_id, &session_id, 1).unwrap();
        assert!(!s.accepts(&key, next.expose(), "s1", 99));
        assert!(!s.accepts(&HashKey::random().unwrap(), token, "s1", 99));
        assert!(s.is_live("s1", 99) && !s.is_live("s1", 100) && !s.is_live("s2", 0));
    }

    #[test]
    fn a_sessions_acr_follows_its_methods() {
        let key = HashKey::random().unwrap();
        let mut s = session(&key, "t");
        assert_eq!(s.acr(), Acr::Aal2);
        s.amr = vec![Amr::Pwd];
        s.mfa_at = None;
        assert_eq!(s.acr(), Acr::Aal1);
    }

    #[test]
    fn a_sessions_debug_output_holds_no_hash_and_no_stamp() {
        let key = HashKey::random().unwrap();
        let s = session(&key, "t");
        let text = format!("{s:?}");
        assert!(!text.contains(&s.refresh_hash), "{text}");
        assert!(!text.contains("s1"), "{text}");
        assert!(text.contains(s.session_id.as_str()));
    }

    proptest! {
        #[test]
        fn no_text_panics_the_parser_or_passes_it_unsigned(text in "\\PC{0,220}") {
            let key = HashKey::new(&[1; 32]).unwrap();
            prop_assert_eq!(parse_refresh_token(&key, &text), None);
        }

        #[test]
        fn no_token_shaped_text_passes_without_its_tag(
            generation in any::<u64>(),
            secret in "[A-Za-z0-9_-]{43}",
        ) {
            let key = HashKey::new(&[1; 32]).unwrap();
            let text = format!("rt1.{USER}.abc.{generation}.{secret}");
            prop_assert_eq!(parse_refresh_token(&key, &text), None);
        }
    }
}
