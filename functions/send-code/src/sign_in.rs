//! A code for the second factor of a sign-in, to a destination the user confirmed
//! and the policy allows.

use std::net::IpAddr;

use twofa::api::{ApiError, Response};
use twofa::app::Core;
use twofa::codes::CodePurpose;
use twofa::flows::load_side;
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
        Provider::Authenticator | Provider::RecoveryCode => None,
    }
}
