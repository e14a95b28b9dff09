//! The route table ([`Operation`], [`ROUTES`]) and which module serves each operation.

use twofa::api::{ApiError, Request, Response, operation};
use twofa::app::Core;
use twofa::ids::{DeviceId, PasskeyId, SessionId, UserId};
use twofa::senders::EmailSender;

use crate::{
    account, authenticator, console, devices, events, lockout, passkeys, password, recovery,
    sessions, settings, sign_out, tenants, users,
};

twofa::operations! {
    /// What a request to this function asks for.
    pub enum Operation {
        /// Read the side's two-factor settings.
        GetSettings = "GET" "/settings/two-factor",
        /// Change the side's two-factor settings.
        PutSettings = "PUT" "/settings/two-factor",
        /// Create a tenant and its first admin.
        CreateTenant = "POST" "/tenants",
        /// Read whether a tenant may use two-factor sign-in.
        GetTenantFeature = "GET" "/tenants/{tenant}/features/two-factor",
        /// Change whether a tenant may use two-factor sign-in.
        PutTenantFeature = "PUT" "/tenants/{tenant}/features/two-factor",
        /// Read a user's two-factor flag.
        GetUserTwoFactor = "GET" "/users/{user_id}/two-factor",
        /// Change a user's two-factor flag.
        PutUserTwoFactor = "PUT" "/users/{user_id}/two-factor",
        /// Read the caller's second factors.
        GetAccount = "GET" "/account/two-factor",
        /// Change the caller's own two-factor flag.
        PutAccount = "PUT" "/account/two-factor",
        /// Start enrolling an authenticator app.
        EnrolAuthenticator = "POST" "/account/authenticator",
        /// Remove the authenticator app.
        RemoveAuthenticator = "DELETE" "/account/authenticator",
        /// Finish enrolling with a first code.
        VerifyAuthenticator = "POST" "/account/authenticator/verify",
        /// Replace the recovery codes.
        RegenerateRecoveryCodes = "POST" "/account/recovery-codes",
        /// Forget every remembered browser.
        ForgetBrowsers = "POST" "/account/forget-browser",
        /// List the remembered browsers.
        ListDevices = "GET" "/account/devices",
        /// Forget one remembered browser.
        ForgetDevice = "DELETE" "/account/devices/{device_id}",
        /// Start enrolling a passkey.
        StartPasskey = "POST" "/account/passkeys/register",
        /// Finish enrolling a passkey with the authenticator's answer.
        FinishPasskey = "POST" "/account/passkeys/register/finish",
        /// List the passkeys.
        ListPasskeys = "GET" "/account/passkeys",
        /// Rename a passkey.
        RenamePasskey = "PATCH" "/account/passkeys/{passkey_id}",
        /// Remove a passkey.
        RemovePasskey = "DELETE" "/account/passkeys/{passkey_id}",
        /// List the signed-in sessions.
        ListSessions = "GET" "/account/sessions",
        /// End one session.
        EndSession = "DELETE" "/account/sessions/{session_id}",
        /// Change the password.
        ChangePassword = "PUT" "/account/password",
        /// End every session.
        SignOutEverywhere = "POST" "/account/sign-out-everywhere",
        /// Read the side's lockout settings.
        GetLockout = "GET" "/settings/lockout",
        /// Change the side's lockout settings.
        PutLockout = "PUT" "/settings/lockout",
        /// The console's page.
        ConsolePage = "GET" "/",
        /// A file of the console.
        ConsoleFile = "GET" "/console/{file}",
        /// List the side's users.
        ListUsers = "GET" "/users",
        /// End a user's lock.
        UnlockUser = "POST" "/users/{user_id}/unlock",
        /// Reset a user's second factors.
        ResetUserTwoFactor = "POST" "/users/{user_id}/reset-two-factor",
        /// The caller's security events.
        OwnEvents = "GET" "/account/events",
        /// The side's security events.
        SideEvents = "GET" "/events",
    }
}

/// Serves the operation the request asks for.
pub async fn dispatch(
    core: &Core,
    email: &dyn EmailSender,
    req: &Request,
) -> Result<Response, ApiError> {
    let (op, params) = operation::<Operation>(req)?;
    // Every pattern has at most one `{param}`. An id in the wrong shape is `None`: the
    // handler answers it as an unknown one, after its own checks of the caller.
    let param = params.first().map(String::as_str).unwrap_or_default();
    let user_id = || UserId::parse(param);
    match op {
        Operation::GetSettings => settings::get(core, req).await,
        Operation::PutSettings => settings::put(core, req).await,
        Operation::CreateTenant => tenants::create(core, req).await,
        Operation::GetTenantFeature => tenants::get_feature(core, req, param).await,
        Operation::PutTenantFeature => tenants::put_feature(core, req, param).await,
        Operation::GetUserTwoFactor => users::get(core, req, user_id().as_ref()).await,
        Operation::PutUserTwoFactor => users::put(core, email, req, user_id().as_ref()).await,
        Operation::GetAccount => account::get(core, req).await,
        Operation::PutAccount => account::put(core, email, req).await,
        Operation::EnrolAuthenticator => authenticator::create(core, req).await,
        Operation::RemoveAuthenticator => authenticator::delete(core, email, req).await,
        Operation::VerifyAuthenticator => authenticator::verify(core, email, req).await,
        Operation::RegenerateRecoveryCodes => recovery::regenerate(core, email, req).await,
        Operation::ForgetBrowsers => devices::forget_all(core, req).await,
        Operation::ListDevices => devices::list(core, req).await,
        Operation::ForgetDevice => {
            devices::forget_one(core, req, DeviceId::parse(param).as_ref()).await
        }
        Operation::StartPasskey => passkeys::start(core, req).await,
        Operation::FinishPasskey => passkeys::finish(core, email, req).await,
        Operation::ListPasskeys => passkeys::list(core, req).await,
        Operation::RenamePasskey => {
            passkeys::rename(core, req, PasskeyId::parse(param).as_ref()).await
        }
        Operation::RemovePasskey => {
            passkeys::remove(core, email, req, PasskeyId::parse(param).as_ref()).await
        }
        Operation::ListSessions => sessions::list(core, req).await,
        Operation::EndSession => sessions::end(core, req, SessionId::parse(param).as_ref()).await,
        Operation::ChangePassword => password::change(core, email, req).await,
        Operation::SignOutEverywhere => sign_out::everywhere(core, email, req).await,
        Operation::GetLockout => lockout::get(core, req).await,
        Operation::PutLockout => lockout::put(core, req).await,
        Operation::ConsolePage => Ok(console::index()),
        Operation::ConsoleFile => console::asset(param),
        Operation::ListUsers => users::list(core, req).await,
        Operation::UnlockUser => users::unlock(core, req, user_id().as_ref()).await,
        Operation::ResetUserTwoFactor => {
            users::reset_two_factor(core, email, req, user_id().as_ref()).await
        }
        Operation::OwnEvents => events::own(core, req).await,
        Operation::SideEvents => events::side(core, req).await,
    }
}
