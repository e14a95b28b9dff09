//! A code for the second factor of a sign-in, to a destination the user confirmed
//! and the policy allows; for a passkey, the ceremony's request options instead.

use std::net::IpAddr;

use http::StatusCode;
use twofa::api::{ApiError, Response, json};
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::flows::load_side;
use twofa::flows::passkey::{relying_party, start_ceremony};
use twofa::ids::SignInId;
use twofa::passkeys::Purpose;
use twofa::policy::{Provider, usable_providers};
use twofa::user::User;

use crate::deliver::{Destination, Senders, send_code};

pub async fn send(
    core: &Core,
    senders: &Senders<'_>,
    token: &str,
    provider: Provider,
    source: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let twofa::flows::PendingSignIn { user, sid } =
        twofa::flows::pending_sign_in(core, token).await?;
    let purpose = match provider {
        Provider::Email => CodePurpose::SignInEmail,
        Provider::Sms => CodePurpose::SignInSms,
        Provider::Passkey => return passkey_options(core, &user, sid).await,
        // Nothing to send: the user has the code already.
        Provider::Authenticator | Provider::RecoveryCode => {
            return Err(ApiError::provider_unavailable(provider.as_str()));
        }
    };
    let Some(side) = load_side(core.store.as_ref(), &user.side).await? else {
        return Err(ApiError::unauthorized());
    };
    if !usable_providers(&user, &side.effective(user.two_factor_enabled)).contains(&provider) {
        return Err(ApiError::provider_unavailable(provider.as_str()));
    }
    let to = destination(core, &user, provider)
        .ok_or_else(|| ApiError::provider_unavailable(provider.as_str()))?;
    send_code(core, senders, &user, purpose, to, Some(&sid), source).await
}

/// A passkey has nothing to send: the answer is the request options naming the
/// user's passkeys, for a ceremony bound to this sign-in (verify-code finishes it).
async fn passkey_options(core: &Core, user: &User, sid: SignInId) -> Result<Response, ApiError> {
    let Some(side) = load_side(core.store.as_ref(), &user.side).await? else {
        return Err(ApiError::unauthorized());
    };
    let eff = side.effective(user.two_factor_enabled);
    if !usable_providers(user, &eff).contains(&Provider::Passkey) {
        return Err(ApiError::provider_unavailable(Provider::Passkey.as_str()));
    }
    let rp = relying_party(core, &eff)?;
    let (options, state) = rp
        .start_second_factor(&user.passkeys)
        .map_err(ApiError::internal)?;
    let purpose = Purpose::SecondFactor {
        user_id: user.id.clone(),
        sign_in: sid,
    };
    let started = start_ceremony(core, purpose, options, state).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "provider": Provider::Passkey.as_str(),
            "ceremony_id": started.ceremony_id,
            "options": started.options,
            "expires_in": started.expires_in,
        }),
    ))
}

/// The confirmed destination of `provider`; `None` for a number SMS may not go to.
fn destination(core: &Core, user: &User, provider: Provider) -> Option<Destination> {
    match provider {
        Provider::Email => Some(Destination::email(&user.email)),
        Provider::Sms => {
            let number = user.phone_number.as_ref()?;
            core.config
                .sms_allowed_to(number.country_code())
                .then(|| Destination::phone(number))
        }
        Provider::Passkey | Provider::Authenticator | Provider::RecoveryCode => None,
    }
}
