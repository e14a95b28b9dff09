//! Passwords: the NIST SP 800-63B rules (length, no commonly used ones, no composition
//! rules) and Argon2id hashing at OWASP's parameters, off the async worker threads.

use std::sync::OnceLock;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};

use crate::crypto::random_bytes;
use crate::secret::Secret;

/// The most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WeakPassword(pub String);

/// A password that met the rules. Never printed.
#[derive(Debug, Clone)]
pub struct Password(Secret<String>);

impl Password {
    /// Checks a new password: `min_chars` to 128 characters (any Unicode), and not
    /// guessable (zxcvbn estimates fewer than a million guesses, which covers the
    /// common-password lists and keyboard walks). `context` holds words the user
    /// gave alongside (email, tenant) that must not make up the password.
    pub fn new(input: &str, min_chars: usize, context: &[&str]) -> Result<Self, WeakPassword> {
        let n = input.chars().count();
        if n < min_chars {
            return Err(WeakPassword(format!(
                "the password must have at least {min_chars} characters"
            )));
        }
        if n > MAX_PASSWORD_CHARS {
            return Err(WeakPassword(format!(
                "the password must have at most {MAX_PASSWORD_CHARS} characters"
            )));
        }
        if input.trim().is_empty() {
            return Err(WeakPassword("the password is only spaces".into()));
        }
        let estimate = zxcvbn::zxcvbn(input, context);
        if (estimate.score() as u8) < 2 {
            return Err(WeakPassword(
                "the password is too common or too easy to guess; a few unrelated words make a strong one".into(),
            ));
        }
        Ok(Self(Secret::new(input.to_string())))
    }

    /// A password an operator chose for a local-only account (the local API's seeded
    /// admin): only the length limits apply, so a development setup never fails to
    /// start over a weak test password. Never used for passwords users choose.
    pub fn operator_chosen(input: &str) -> Result<Self, WeakPassword> {
        match input.chars().count() {
            0 => Err(WeakPassword("the password is empty".into())),
            n if n > MAX_PASSWORD_CHARS => Err(WeakPassword(format!(
                "the password must have at most {MAX_PASSWORD_CHARS} characters"
            ))),
            _ => Ok(Self(Secret::new(input.to_string()))),
        }
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// Why hashing failed: a bug or a broken host, never the user's doing.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Argon2 refused its parameters or input.
    #[error("argon2: {0}")]
    Argon2(String),
    /// The blocking task died.
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// No randomness for the salt.
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

fn argon2() -> Argon2<'static> {
    // OWASP: Argon2id, m=19456 KiB, t=2, p=1.
    let params = Params::new(19_456, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// Argon2's working memory, kept by each blocking thread between hashes. A fresh
    /// 19 MiB allocation for every hash (what `hash_password_into` does) is zeroed by
    /// the allocator and faulted in page by page: about an eighth of a hash's time,
    /// measured (BENCHMARKS.md, Argon2). Wiped after each use, as the C reference does.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs Argon2 (`argon2`, its parameters) over `password` and `salt` into `out`, in
/// this thread's kept memory. A hash at larger parameters than ours (an older or
/// imported one) borrows more for its run only: a thread keeps what our own
/// parameters need, so one such hash does not leave every blocking thread holding
/// its memory for good.
fn run_argon2(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let kept = OWN_BLOCKS.get_or_init(|| self::argon2().params().block_count());
    MEMORY.with_borrow_mut(|memory| {
        let blocks = argon2.params().block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let result =
            argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks]);
        memory[..blocks].fill(Block::default());
        // The wipe must happen even where the memory is given back just after.
        std::hint::black_box(&mut memory[..]);
        if memory.len() > *kept {
            memory.truncate(*kept);
            memory.shrink_to(*kept);
        }
        result
    })
}

/// The blocks our own parameters need: what each thread keeps.
static OWN_BLOCKS: OnceLock<usize> = OnceLock::new();

/// Ceilings on the costs a stored hash may name. Ours are m=19456 KiB, t=2, p=1; a
/// string beyond these was not written by this service, and running it would let one
/// stored value make a login allocate gigabytes (an allocation that fails aborts the
/// process), spin for hours, or run millions of lanes. Such a hash is refused like
/// a wrong password: fail closed.
const MAX_STORED_M_KIB: u32 = 65_536;
const MAX_STORED_T: u32 = 10;
const MAX_STORED_P: u32 = 8;

/// Whether `params` are within what a stored hash may ask for ([`MAX_STORED_M_KIB`]).
fn affordable(params: &Params) -> bool {
    params.m_cost() <= MAX_STORED_M_KIB
        && params.t_cost() <= MAX_STORED_T
        && params.p_cost() <= MAX_STORED_P
}

fn hash_blocking(password: &[u8]) -> Result<String, HashError> {
    let salt = random_bytes(16)?;
    let argon2 = argon2();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    run_argon2(&argon2, password, &salt, &mut out).map_err(|e| HashError::Argon2(e.to_string()))?;
    let phc = || -> argon2::password_hash::Result<PasswordHash> {
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon2.params())?,
            salt: Some(Salt::new(&salt)?),
            hash: Some(Output::new(&out)?),
        })
    };
    phc()
        .map(|h| h.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

/// Checks `password` against a PHC string as `PasswordVerifier` does (the algorithm,
/// version and parameters the string names; a constant-time comparison of the
/// output), in the kept memory. Costs beyond the ceilings ([`affordable`]) are refused
/// unrun.
fn verify_blocking(password: &[u8], phc: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .ok()?;
        let params = Params::try_from(&parsed).ok().filter(affordable)?;
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params);
        run_argon2(&argon2, password, salt.as_ref(), &mut out).ok()?;
        // `Output`'s equality is constant-time.
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

/// Hashes a password to a PHC string, on a blocking thread.
pub async fn hash_password(password: &Password) -> Result<String, HashError> {
    let p = password.expose().as_bytes().to_vec();
    tokio::task::spawn_blocking(move || hash_blocking(&p)).await?
}

/// Verifies a password against a PHC string, on a blocking thread. With `None`
/// (no such user) a dummy hash is verified instead, so that the answer takes
/// as long as for a real user and timing tells nothing.
pub async fn verify_password(password: &str, phc: Option<&str>) -> Result<bool, HashError> {
    let p = password.as_bytes().to_vec();
    let real = phc.map(str::to_string);
    tokio::task::spawn_blocking(move || match real {
        Some(h) => Ok(verify_blocking(&p, &h)),
        None => {
            dummy_work(&p)?;
            Ok(false)
        }
    })
    .await?
}

/// One Argon2 run at the real parameters, as long as checking a real user's
/// password. The first call makes the dummy hash (hashing costs what verifying
/// does) and later ones verify against it: no call pays twice.
fn dummy_work(password: &[u8]) -> Result<DummyWork, HashError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        verify_blocking(password, h);
        return Ok(DummyWork::Verified);
    }
    let h = hash_blocking(password)?;
    let _ = DUMMY.set(h);
    Ok(DummyWork::Hashed)
}

/// Which Argon2 run the dummy check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DummyWork {
    Hashed,
    Verified,
}

/// Hashes without the strength rules, synchronously; for seeding test users.
#[cfg(any(test, feature = "testing"))]
pub fn hash_blocking_for_tests(password: &str) -> String {
    hash_blocking(password.as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_long_and_common_passwords() {
        assert!(Password::new("short-pass1", 12, &[]).is_err());
        assert!(Password::new(&"x7Kq".repeat(33), 12, &[]).is_err());
        for common in [
            "password1234",
            "123456789012",
            "qwertyuiopas",
            "aaaaaaaaaaaa",
            "iloveyou1234",
        ] {
            assert!(
                Password::new(common, 12, &[]).is_err(),
                "{common} was accepted"
            );
        }
    }

    #[test]
    fn accepts_long_unguessable_passwords_of_any_script() {
        for good in [
            "correct horse battery staple",
            "Tr0ub4dor&3-mango-kite",
            "пароль-очень-длинный-7",
            "Sup3r-Secret-Passw0rd!",
        ] {
            assert!(Password::new(good, 12, &[]).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn the_minimum_length_is_configurable() {
        assert!(Password::new("kite-mango-zebra-42", 20, &[]).is_err());
        assert!(Password::new("kite-mango-zebra-42", 12, &[]).is_ok());
    }

    #[test]
    fn refuses_a_password_made_of_the_users_own_email() {
        assert!(Password::new("jane.doe@example.com", 12, &["jane.doe@example.com"]).is_err());
    }

    #[test]
    fn an_unknown_user_costs_one_argon2_run_the_first_time_too() {
        // The first makes the dummy hash instead of hashing and then verifying.
        let runs: Vec<DummyWork> = (0..3).map(|_| dummy_work(b"some guess").unwrap()).collect();
        // Other tests in this process may have made it already.
        assert!(
            runs.iter().filter(|w| **w == DummyWork::Hashed).count() <= 1,
            "{runs:?}"
        );
        assert_eq!(runs[1..], [DummyWork::Verified, DummyWork::Verified]);
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher_and_verifier_at_any_parameters() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let password = b"Tr0ub4dor&3-mango-kite";
        // A hash stored before the kept memory, and one at other parameters (more
        // memory than the buffer holds, then less), still verify.
        for params in [
            Params::new(19_456, 2, 1, None).unwrap(),
            Params::new(32_768, 3, 1, None).unwrap(),
            Params::new(8_192, 1, 1, None).unwrap(),
        ] {
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(password, b"sixteen byte slt")
                .unwrap()
                .to_string();
            assert!(verify_blocking(password, &theirs), "{theirs}");
            assert!(!verify_blocking(b"Tr0ub4dor&3-mango-kitE", &theirs));
        }
        let ours = hash_blocking(password).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(password, &parsed).is_ok());
    }

    /// Hashes made by the C reference (argon2-cffi 25.1.0, `hash_secret`), at our
    /// parameters and at four lanes, verify here: Argon2 as we run it is the
    /// reference's, not only the crate's.
    #[test]
    fn hashes_made_by_the_c_reference_verify_here() {
        for (password, phc) in [
            (
                &b"correct horse battery staple"[..],
                "$argon2id$v=19$m=19456,t=2,p=1$dHdvZmEtYy1yZWYtc2FsdA$/ahGLVCi9nzmjiPodrYyL0Qn+AIrf2z0ZJnBrUZCAUc",
            ),
            (
                b"Tr0ub4dor&3 is not a passphrase",
                "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$wfDrewGaKic7km4WwHHe/bQCp8SORVSwwRGQlj9iOOk",
            ),
            (
                b"lanes",
                "$argon2id$v=19$m=4096,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$DUsNohPmn8jDZiF7hASeAxZvq9zYJ1twd2JiJe3GTNY",
            ),
        ] {
            assert!(verify_blocking(password, phc), "{phc}");
            let mut wrong = password.to_vec();
            wrong[0] ^= 1;
            assert!(!verify_blocking(&wrong, phc), "{phc}");
        }
    }

    #[test]
    fn a_stored_hash_naming_absurd_costs_fails_closed_without_running_them() {
        let password = b"Tr0ub4dor&3-mango-kite";
        let ours = hash_blocking(password).unwrap();
        assert!(verify_blocking(password, &ours));
        // Terabytes of memory, billions of passes, millions of lanes: a corrupt or
        // planted hash must not make a login allocate or spin; it is only wrong.
        for absurd in [
            "m=4294967295,t=2,p=1",
            "m=19456,t=4294967295,p=1",
            "m=134217728,t=2,p=16777215",
            "m=19456,t=2,p=0",
            "m=0,t=2,p=1",
        ] {
            let planted = ours.replace("m=19456,t=2,p=1", absurd);
            assert!(!verify_blocking(password, &planted), "{planted}");
        }
    }

    #[test]
    fn a_stored_hash_under_another_algorithm_or_version_or_with_parts_missing_does_not_verify() {
        let password = b"Tr0ub4dor&3-mango-kite";
        let ours = hash_blocking(password).unwrap();
        let (head, hash) = ours.rsplit_once('$').unwrap();
        let (_, salt) = head.rsplit_once('$').unwrap();
        for other in [
            ours.replace("$argon2id$", "$argon2i$"),
            ours.replace("$argon2id$", "$argon2d$"),
            ours.replace("$argon2id$", "$pbkdf2-sha256$"),
            ours.replace("$v=19$", "$v=16$"),
            ours.replace("$v=19$", "$v=20$"),
            head.to_string(),
            ours.replace(&format!("${salt}$"), "$"),
            ours.replace(hash, ""),
            String::new(),
        ] {
            assert!(!verify_blocking(password, &other), "{other}");
        }
    }

    #[test]
    fn verifying_a_larger_hash_leaves_a_thread_no_more_kept_memory_than_our_own_and_none_of_it_set()
    {
        use argon2::password_hash::PasswordHasher;
        let password = b"Tr0ub4dor&3-mango-kite";
        let larger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(65_536, 2, 1, None).unwrap(),
        )
        .hash_password_with_salt(password, b"sixteen byte slt")
        .unwrap()
        .to_string();
        assert!(verify_blocking(password, &larger));
        let own = argon2().params().block_count();
        MEMORY.with_borrow(|memory| {
            assert!(memory.len() <= own, "{} blocks kept", memory.len());
            assert!(
                memory.capacity() <= own,
                "{} blocks held",
                memory.capacity()
            );
            assert!(
                memory.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)),
                "the last hash's blocks are still in the kept memory"
            );
        });
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password_and_use_argon2id_at_owasp_parameters() {
        let p = Password::new("Tr0ub4dor&3-mango-kite", 12, &[]).unwrap();
        let h = hash_password(&p).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            verify_password("Tr0ub4dor&3-mango-kite", Some(&h))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("Tr0ub4dor&3-mango-kitE", Some(&h))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("Tr0ub4dor&3-mango-kite", None)
                .await
                .unwrap()
        );
        assert!(
            !verify_password("anything", Some("not a phc string"))
                .await
                .unwrap()
        );
    }
}
