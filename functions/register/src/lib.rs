//! The register function: `POST /register` creates a user in the host or a tenant.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use twofa::api::{
    ApiError, ErrorCode, Request, Response, json, operation, parse_body, respond_within, side_named,
};
use twofa::app::Core;
use twofa::email::Email;
use twofa::password::{Password, hash_password};
use twofa::phone::PhoneNumber;
use twofa::side::Side;
use twofa::store::{StoreError, login_record_under};
use twofa::user::User;

twofa::operations! {
    /// What a request to this function asks for.
    pub enum Operation {
        /// Create a user.
        Register = "POST" "/register",
    }
}

/// Serves one request.
pub async fn handle(core: &Core, req: Request) -> Response {
    respond_within(serve(core, req)).await
}

async fn serve(core: &Core, req: Request) -> Result<Response, ApiError> {
    match operation::<Operation>(&req)?.0 {
        Operation::Register => register(core, req).await,
    }
}

#[derive(Deserialize)]
struct RegisterBody {
    tenant: Option<String>,
    email: String,
    password: String,
    phone_number: Option<String>,
}

async fn register(core: &Core, req: Request) -> Result<Response, ApiError> {
    let body: RegisterBody = parse_body(&req)?;
    let email =
        Email::parse(&body.email).map_err(|e| ApiError::invalid_email("email", e.to_string()))?;
    let context: Vec<&str> = [Some(body.email.as_str()), body.tenant.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let password = Password::new(&body.password, core.config.password_min_length, &context)
        .map_err(|e| ApiError::weak_password("password", e.to_string()))?;
    let phone = body
        .phone_number
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()
        .map_err(|e| ApiError::invalid_phone("phone_number", e.to_string()))?;
    let scope = existing_scope(core, body.tenant.as_deref()).await?;
    // An account stored under a key an older rule gave this address (until the
    // operator moves it, `twofa-admin rekey-emails`) is this address's too; the
    // key it gets now is guarded by the write itself.
    let keys = Email::lookup_keys(&body.email);
    if let Some(older) = keys.get(1..).filter(|older| !older.is_empty())
        && login_record_under(core.store.as_ref(), &scope, older)
            .await?
            .is_some()
    {
        return Err(ApiError::of(ErrorCode::EmailTaken));
    }

    let user = User {
        phone_number: phone,
        ..User::new(scope, email, hash_password(&password).await?, core.now())
    };
    match core.store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::of(ErrorCode::EmailTaken));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %user.id, scope = %user.side.key(), "user registered");
    Ok(json(
        StatusCode::CREATED,
        &json!({ "user_id": user.id, "email": user.email, "email_confirmed": false }),
    ))
}

async fn existing_scope(core: &Core, tenant: Option<&str>) -> Result<Side, ApiError> {
    let scope = side_named(tenant)?;
    if let Side::Tenant(key) = &scope {
        core.store
            .tenant(key)
            .await?
            .ok_or_else(ApiError::unknown_tenant)?;
    }
    Ok(scope)
}
