//! `/account/passkeys`: enrolling a passkey (a WebAuthn registration ceremony in two
//! requests), listing, renaming and removing them. Enrolling and removing change the
//! security stamp, as adding or removing an authenticator does: other sessions end,
//! the caller's goes on with the fresh token in the answer (a 204 ends it too).

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use twofa::api::{
    ApiError, Caller, ErrorCode, Request, Response, json, no_content, parse_body,
    require_fresh_binding, require_step_up,
};
use twofa::app::Core;
use twofa::audit::EventType;
use twofa::flows::passkey::{relying_party, start_ceremony, take_ceremony};
use twofa::flows::{attempt_id, fresh_access};
use twofa::ids::PasskeyId;
use twofa::passkeys::{self, MAX_PER_USER, Passkey, Purpose, Refused};
use twofa::senders::{EmailSender, notify};
use twofa::store::PasskeyAdded;
use twofa::tokens::{FreshAccess, TokenKind};
use twofa::user::UserPatch;

use crate::caller::{enrolling, signed_in};
use crate::side::side_of;

/// A passkey as the account lists it.
#[derive(Serialize)]
struct Listed {
    passkey_id: PasskeyId,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
    backed_up: bool,
}

impl From<&Passkey> for Listed {
    fn from(p: &Passkey) -> Self {
        Self {
            passkey_id: p.id.clone(),
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backed_up: p.backed_up,
        }
    }
}

#[derive(Serialize)]
struct Added {
    passkey_id: PasskeyId,
    name: String,
    created_at: i64,
    backed_up: bool,
    /// With a setup token: the holder must now sign in again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sign_in_again: bool,
    /// With an access token: the caller's token under the new security stamp.
    #[serde(flatten)]
    fresh: Option<FreshAccess>,
}

#[derive(Deserialize)]
struct Finish {
    ceremony_id: String,
    credential: Value,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Rename {
    name: String,
}

/// The enrolment a caller's ceremony is bound to: its account and, with an access
/// token, its session (a setup token has none; its stamp binds it instead).
fn enrolment_of(caller: &Caller) -> Purpose {
    Purpose::Register {
        user_id: caller.user.id.clone(),
        session: caller
            .claims
            .session_id()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

/// `POST /account/passkeys/register`: creation options for a new passkey.
pub async fn start(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = enrolling(core, req).await?;
    let user = &caller.user;
    let side = side_of(core, user).await?;
    let eff = side.effective(user.two_factor_enabled);
    let rp = relying_party(core, &eff)?;
    require_fresh_binding(core, &caller, &eff)?;
    if user.passkeys.len() >= MAX_PER_USER {
        return Err(too_many());
    }
    let (options, state) = rp
        .start_registration(&user.id, user.email.as_str(), &user.passkeys)
        .map_err(ApiError::internal)?;
    let started = start_ceremony(core, enrolment_of(&caller), options, state).await?;
    Ok(json(StatusCode::OK, &started))
}

fn too_many() -> ApiError {
    ApiError::conflict(format!(
        "an account keeps at most {MAX_PER_USER} passkeys; remove one first"
    ))
}

/// `POST /account/passkeys/register/finish`: the authenticator's answer enrols the passkey.
pub async fn finish(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let caller = enrolling(core, req).await?;
    let body: Finish = parse_body(req)?;
    let user = &caller.user;
    let name = match body.name.as_deref() {
        None => format!("Passkey {}", user.passkeys.len() + 1),
        Some(given) => passkeys::name(given).ok_or_else(|| {
            ApiError::invalid_field(
                "name",
                format!(
                    "a passkey's name is 1 to {} characters, without control characters",
                    passkeys::NAME_MAX_CHARS
                ),
            )
        })?,
    };
    let side = side_of(core, user).await?;
    let eff = side.effective(user.two_factor_enabled);
    let rp = relying_party(core, &eff)?;
    require_fresh_binding(core, &caller, &eff)?;
    let ceremony = take_ceremony(
        core,
        &body.ceremony_id,
        &attempt_id()?,
        &enrolment_of(&caller),
    )
    .await?;
    let enrolled = rp
        .finish_registration(&ceremony.state, &body.credential)
        .map_err(|e| match e {
            Refused::Malformed => {
                ApiError::invalid_field("credential", "not a PublicKeyCredential in JSON form")
            }
            refused => {
                tracing::info!(user_id = %user.id, reason = %refused, "passkey enrolment refused");
                ApiError::of(ErrorCode::PasskeyRefused)
            }
        })?;
    let passkey = Passkey {
        id: PasskeyId::random()?,
        credential_id: enrolled.credential_id,
        name,
        created_at: core.now(),
        last_used_at: None,
        backed_up: enrolled.backed_up,
        counter: enrolled.counter,
        credential: enrolled.credential,
    };
    // A new factor ends every other session; the write holds only while the caller's
    // session is still live (a sign-out everywhere in flight).
    let patch = UserPatch::default()
        .rotating_stamp()
        .under_stamp(&user.security_stamp);
    match core
        .store
        .add_passkey(&user.id, &user.side, &passkey, &patch)
        .await?
    {
        PasskeyAdded::Done => {}
        PasskeyAdded::Taken => {
            return Err(ApiError::of(ErrorCode::PasskeyRefused)
                .saying("this passkey is already enrolled on an account"));
        }
        PasskeyAdded::Full => return Err(too_many()),
        PasskeyAdded::Ended => return Err(ApiError::unauthorized()),
    }
    let mut changed = user.clone();
    patch.apply(&mut changed);
    changed.passkeys.push(passkey.clone());
    let fresh = fresh_access(core, &caller, &changed).await?;
    tracing::info!(user_id = %user.id, passkey_id = %passkey.id, "passkey added");
    core.record(
        core.event(EventType::PasskeyAdded, user, req)
            .detail("passkey_id", passkey.id.clone())
            .detail("name", passkey.name.clone()),
    )
    .await;
    notify(
        email,
        user,
        "A passkey was added",
        &format!(
            "A passkey named \"{}\" was added to your account. It signs in without your password: changing the password does not remove it. If you did not add it, remove it in your two-factor settings (or ask your administrator to reset your second factor).",
            passkey.name
        ),
    )
    .await;
    Ok(json(
        StatusCode::CREATED,
        &Added {
            passkey_id: passkey.id,
            name: passkey.name,
            created_at: passkey.created_at,
            backed_up: passkey.backed_up,
            sign_in_again: caller.kind == TokenKind::Setup,
            fresh,
        },
    ))
}

/// `GET /account/passkeys`.
pub async fn list(core: &Core, req: &Request) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let list: Vec<Listed> = caller.user.passkeys.iter().map(Listed::from).collect();
    Ok(json(StatusCode::OK, &list))
}

fn unknown_passkey() -> ApiError {
    ApiError::not_found("no passkey of this account has this id")
}

/// `PATCH /account/passkeys/{passkey_id}`: a new name.
pub async fn rename(
    core: &Core,
    req: &Request,
    passkey_id: Option<&PasskeyId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let body: Rename = parse_body(req)?;
    let name = passkeys::name(&body.name).ok_or_else(|| {
        ApiError::invalid_field(
            "name",
            format!(
                "a passkey's name is 1 to {} characters, without control characters",
                passkeys::NAME_MAX_CHARS
            ),
        )
    })?;
    let Some(id) = passkey_id else {
        return Err(unknown_passkey());
    };
    let Some(passkey) = caller.user.passkeys.iter().find(|p| p.id == *id) else {
        return Err(unknown_passkey());
    };
    if !core
        .store
        .rename_passkey(&caller.user.id, id, &name)
        .await?
    {
        return Err(unknown_passkey());
    }
    let renamed = Passkey {
        name,
        ..passkey.clone()
    };
    Ok(json(StatusCode::OK, &Listed::from(&renamed)))
}

/// `DELETE /account/passkeys/{passkey_id}`: step-up when two-factor sign-in is on.
pub async fn remove(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
    passkey_id: Option<&PasskeyId>,
) -> Result<Response, ApiError> {
    let caller = signed_in(core, req).await?;
    let user = &caller.user;
    let Some(passkey) = passkey_id.and_then(|id| user.passkeys.iter().find(|p| p.id == *id)) else {
        return Err(unknown_passkey());
    };
    let side = side_of(core, user).await?;
    require_step_up(
        core,
        &caller,
        side.effective(user.two_factor_enabled).enabled,
    )?;
    // Removing a factor ends every session, the caller's too (a 204 has no body for a
    // fresh token), and every remembered browser.
    let patch = UserPatch::default()
        .rotating_stamp()
        .under_stamp(&user.security_stamp);
    if !core
        .store
        .remove_passkey(&user.id, &user.side, passkey, &patch)
        .await?
    {
        let now = core.store.user(&user.id).await?;
        if now.is_none_or(|u| u.security_stamp != user.security_stamp) {
            return Err(ApiError::unauthorized());
        }
        return Err(unknown_passkey());
    }
    tracing::info!(user_id = %user.id, passkey_id = %passkey.id, "passkey removed");
    core.record(
        core.event(EventType::PasskeyRemoved, user, req)
            .detail("passkey_id", passkey.id.clone())
            .detail("name", passkey.name.clone()),
    )
    .await;
    notify(
        email,
        user,
        "A passkey was removed",
        &format!(
            "The passkey named \"{}\" was removed from your account.",
            passkey.name
        ),
    )
    .await;
    Ok(no_content())
}
