//! A store that passes everything to the store it wraps, except that a test may
//! hold one chosen write (the next settings change, or the next user update a
//! predicate picks) until it releases it: the request that made the write waits
//! there, so a race test can run other requests in exactly that window.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;
use twofa::clock::Timestamp;
use twofa::ids::UserId;
use twofa::policy::TwoFactorSettings;
use twofa::side::Side;
use twofa::store::{Store, StoreError, Succeeded, Success};
use twofa::user::{AdminStamp, UserPatch};

use crate::pass_through::{Around, PassThrough};

/// The store's half of one hold: tells the test the write arrived, then waits.
struct Hold {
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl Hold {
    async fn wait(self) {
        let _ = self.reached.send(());
        let _ = self.release.await;
    }
}

/// The test's half of one hold.
pub struct Held {
    reached: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Waits until the held write arrived at the store (and is waiting).
    pub async fn reached(&mut self) {
        (&mut self.reached).await.expect("the held write arrived");
    }
    /// Lets the held write through.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

fn pair() -> (Hold, Held) {
    let (reached_tx, reached_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel();
    (
        Hold {
            reached: reached_tx,
            release: release_rx,
        },
        Held {
            reached: reached_rx,
            release: release_tx,
        },
    )
}

type Pick = Box<dyn Fn(&UserPatch) -> bool + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The holds a test set; clones share them.
#[derive(Clone, Default)]
pub struct Holds {
    settings_hold: Arc<Mutex<Option<Hold>>>,
    user_hold: Arc<Mutex<Option<(Pick, Hold)>>>,
    success_hold: Arc<Mutex<Option<(Pick, Hold)>>>,
}

/// Takes the hold in `slot` if `patch` is the one it picks.
fn picked(slot: &Mutex<Option<(Pick, Hold)>>, patch: &UserPatch) -> Option<Hold> {
    let mut slot = lock(slot);
    match slot.as_ref() {
        Some((pred, _)) if pred(patch) => slot.take().map(|(_, h)| h),
        _ => None,
    }
}

#[async_trait]
impl Around for Holds {
    async fn update_user(
        &self,
        inner: &dyn Store,
        id: &UserId,
        patch: &UserPatch,
    ) -> Result<(), StoreError> {
        if let Some(h) = picked(&self.user_hold, patch) {
            h.wait().await;
        }
        inner.update_user(id, patch).await
    }
    async fn succeed(
        &self,
        inner: &dyn Store,
        id: &UserId,
        success: &Success<'_>,
        now: Timestamp,
    ) -> Result<Succeeded, StoreError> {
        if let Some(h) = picked(&self.success_hold, success.patch) {
            h.wait().await;
        }
        inner.succeed(id, success, now).await
    }
    async fn change_settings(
        &self,
        inner: &dyn Store,
        scope: &Side,
        from: &TwoFactorSettings,
        to: &TwoFactorSettings,
        admin: Option<&AdminStamp>,
    ) -> Result<TwoFactorSettings, StoreError> {
        let held = lock(&self.settings_hold).take();
        if let Some(h) = held {
            h.wait().await;
        }
        inner.change_settings(scope, from, to, admin).await
    }
}

/// The wrapper: everything passes through, but for the writes a test holds.
pub type GateStore = PassThrough<Holds>;

impl GateStore {
    /// Passes everything to `inner`.
    pub fn over(inner: Arc<dyn Store>) -> Self {
        PassThrough::new(inner, Holds::default())
    }

    /// Holds the next `change_settings` until the test releases it.
    pub fn hold_next_settings_change(&self) -> Held {
        let (hold, held) = pair();
        *lock(&self.around().settings_hold) = Some(hold);
        held
    }

    /// Holds the next `succeed` (the success write of an attempt) whose patch `pick`
    /// chooses until the test releases it.
    pub fn hold_next_success(
        &self,
        pick: impl Fn(&UserPatch) -> bool + Send + Sync + 'static,
    ) -> Held {
        let (hold, held) = pair();
        *lock(&self.around().success_hold) = Some((Box::new(pick), hold));
        held
    }

    /// Holds the next `update_user` whose patch `pick` chooses until the test releases it.
    pub fn hold_next_user_update(
        &self,
        pick: impl Fn(&UserPatch) -> bool + Send + Sync + 'static,
    ) -> Held {
        let (hold, held) = pair();
        *lock(&self.around().user_hold) = Some((Box::new(pick), hold));
        held
    }
}
