//! Moves the accounts stored under a key an older rule gave their address (the text
//! as typed in lower case, before addresses were normalised; the normalised text in
//! lower case, before they were case-folded) to the key the address has now
//! ([`Email::key`]). Until then such an account is found when its address is typed
//! as it was registered ([`Email::lookup_keys`]), but not by a registration of a
//! look-alike or case variant of it, which would make a twin. An operator runs it
//! once after upgrading (`twofa-admin rekey-emails`); it changes nothing twice, so
//! a run cut short is simply run again.

use crate::email::Email;
use crate::ids::UserId;
use crate::store::{ScanKey, StoreError, UserStore};
use crate::user::User;

/// Users read per page of the walk.
const PAGE: usize = 100;

/// What a walk did, by user id (addresses are personal data; the operator looks a
/// user up by id).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Accounts moved to the key their address has now.
    pub moved: Vec<UserId>,
    /// Accounts left under their key because another account holds the key their
    /// address has now (look-alike twins, registered before the rules made them one
    /// address), each with that account. Both keep signing in, each typed as it
    /// was registered; an administrator decides which stays.
    pub twins: Vec<(UserId, UserId)>,
    /// Accounts whose address no longer normalises (an invisible character, from
    /// before those were refused): left under their key, where login finds them
    /// typed as registered.
    pub kept: Vec<UserId>,
    /// Accounts whose address or key changed while the walk ran: run it again.
    pub changed: Vec<UserId>,
}

/// Walks every user of every side and moves each one stored under an older key
/// (see the module doc).
pub async fn rekey_emails(store: &dyn UserStore) -> Result<Rekeyed, StoreError> {
    let mut done = Rekeyed::default();
    let mut after: Option<ScanKey> = None;
    loop {
        let page = store.every_user(after.as_ref(), PAGE).await?;
        for user in &page.users {
            rekey(store, user, &mut done).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(done),
        }
    }
}

async fn rekey(store: &dyn UserStore, user: &User, done: &mut Rekeyed) -> Result<(), StoreError> {
    let Some(key) = Email::caseless_key_of(user.email.as_str()) else {
        done.kept.push(user.id.clone());
        return Ok(());
    };
    if key == user.email.key() {
        return Ok(());
    }
    match store.rekey_email(user, &key).await {
        Ok(()) => done.moved.push(user.id.clone()),
        Err(StoreError::Conflict("email")) => match store.login_record(&user.side, &key).await? {
            // Another run moved it meanwhile.
            Some(holder) if holder.user_id == user.id => {}
            Some(holder) => done.twins.push((user.id.clone(), holder.user_id)),
            None => done.changed.push(user.id.clone()),
        },
        Err(StoreError::Conflict(_)) => done.changed.push(user.id.clone()),
        Err(e) => return Err(e),
    }
    Ok(())
}
