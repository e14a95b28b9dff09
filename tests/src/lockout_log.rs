//! A store that notes every lockout write (slot, lock, success) with what it
//! returned, between two ticks of one clock shared by all requests, and passes
//! everything to the store it wraps. Race tests read it to tell the order the
//! store saw: replies and notices alone cannot tell a legitimate order (the right
//! answer finished, then a wrong one took the freed slot and locked) from a lost lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use twofa::clock::Timestamp;
use twofa::ids::{AttemptId, SignInId, UserId};
use twofa::store::{Slot, Store, StoreError, Subject, Succeeded, Success};

use crate::pass_through::{Around, PassThrough};

/// What a lockout write returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noted {
    /// A slot: taken with this count, or refused (`None`).
    Slot(Option<u32>),
    /// A lock was written (or found on already).
    Lock,
    /// A success write and what it did; `release` when it only gave the slot back
    /// (a right password before a second factor, a code that was not a guess).
    Succeed {
        /// What the write did.
        done: Succeeded,
        /// Whether it only gave the slot back.
        release: bool,
    },
}

/// One lockout write: whose, which attempt, what it returned, and the ticks of the
/// shared clock read just before it was sent and just after it returned. The store
/// applied it somewhere between the two: a write that `ended` before another
/// `started` was applied first.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The user id, or the unknown email's key.
    pub subject: String,
    /// The attempt id (`None` for a lock).
    pub attempt: Option<String>,
    /// What it returned.
    pub noted: Noted,
    /// The tick before it was sent.
    pub started: u64,
    /// The tick after it returned.
    pub ended: u64,
}

/// The log and its clock; clones share them.
#[derive(Clone, Default)]
pub struct Notes {
    log: Arc<Mutex<Vec<Entry>>>,
    clock: Arc<AtomicU64>,
}

/// The wrapper: everything passes through, the lockout writes noted on the way.
pub type LockoutLog = PassThrough<Notes>;

fn subject_key(s: Subject<'_>) -> String {
    match s {
        Subject::User(id) => id.to_string(),
        Subject::Unknown(key) => key.to_string(),
    }
}

impl LockoutLog {
    /// Notes the lockout writes made on `inner`.
    pub fn over(inner: Arc<dyn Store>) -> Self {
        PassThrough::new(inner, Notes::default())
    }

    /// Forgets what was noted so far.
    pub fn clear(&self) {
        self.around().entries().clear();
    }

    /// The writes noted for `subject`, in the order they started.
    pub fn of(&self, subject: &str) -> Vec<Entry> {
        let mut of: Vec<Entry> = self
            .around()
            .entries()
            .iter()
            .filter(|e| e.subject == subject)
            .cloned()
            .collect();
        of.sort_by_key(|e| e.started);
        of
    }
}

impl Notes {
    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    fn note(&self, subject: String, attempt: Option<&str>, noted: Noted, started: u64) {
        let ended = self.tick();
        self.entries().push(Entry {
            subject,
            attempt: attempt.map(str::to_string),
            noted,
            started,
            ended,
        });
    }
}

#[async_trait]
impl Around for Notes {
    async fn take_slot(
        &self,
        inner: &dyn Store,
        subject: Subject<'_>,
        attempt: &AttemptId,
        sid: Option<&SignInId>,
        max: u32,
        now: Timestamp,
    ) -> Result<Slot, StoreError> {
        let started = self.tick();
        let slot = inner.take_slot(subject, attempt, sid, max, now).await?;
        let count = match &slot {
            Slot::Taken { count, .. } => Some(*count),
            _ => None,
        };
        self.note(
            subject_key(subject),
            Some(attempt),
            Noted::Slot(count),
            started,
        );
        Ok(slot)
    }
    async fn lock(
        &self,
        inner: &dyn Store,
        subject: Subject<'_>,
        now: Timestamp,
        until: Timestamp,
        hard: bool,
    ) -> Result<(), StoreError> {
        let started = self.tick();
        inner.lock(subject, now, until, hard).await?;
        self.note(subject_key(subject), None, Noted::Lock, started);
        Ok(())
    }
    async fn succeed(
        &self,
        inner: &dyn Store,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        let started = self.tick();
        let done = inner.succeed(id, success, now).await?;
        self.note(
            id.to_string(),
            Some(success.attempt),
            Noted::Succeed {
                done,
                release: success.release_only,
            },
            started,
        );
        Ok(done)
    }
}
