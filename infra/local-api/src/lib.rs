//! The local API: every route of the contract on one axum server, over the
//! embedded store (or DynamoDB when configured), calling the same handlers the
//! Lambda functions run. Adds `GET /_local/outbox`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use http::StatusCode;
use twofa::api::{ApiError, ClientInfo, MAX_BODY_BYTES, Request, Response, Route};
use twofa::app::Core;
use twofa::senders::log::LogSender;
use twofa::senders::{EmailSender, SmsSender};

pub mod admin;
pub mod keys;
pub mod start;

/// Every route with the function that serves it, as the SAM template maps them.
pub fn route_table() -> Vec<(&'static str, Route)> {
    let mut table = Vec::new();
    for (function, routes) in [
        ("register", register::ROUTES),
        ("login", login::ROUTES),
        ("send-code", send_code::ROUTES),
        ("verify-code", verify_code::ROUTES),
        ("manage-settings", manage_settings::ROUTES),
    ] {
        table.extend(routes.iter().map(|r| (function, *r)));
    }
    table
}

/// What the server holds.
pub struct LocalApi {
    /// Settings, keys, store, clock.
    pub core: Core,
    /// Sends texts.
    pub sms: Arc<dyn SmsSender>,
    /// Sends email.
    pub email: Arc<dyn EmailSender>,
    /// Keeps what the log senders "sent".
    pub outbox: LogSender,
}

impl LocalApi {
    /// Serves one request by the function that owns its route.
    pub async fn dispatch(&self, req: Request) -> Response {
        let path = req.uri().path().to_string();
        if path == "/_local/outbox" {
            return if req.method() == http::Method::GET {
                twofa::api::json(StatusCode::OK, &self.outbox.outbox())
            } else {
                ApiError::method_not_allowed("/_local/outbox", &["GET"]).into_response()
            };
        }
        let owner = route_table()
            .into_iter()
            .find(|(_, r)| {
                twofa::api::match_path(r.path, &path).is_some() && r.method == req.method().as_str()
            })
            .or_else(|| {
                route_table()
                    .into_iter()
                    .find(|(_, r)| twofa::api::match_path(r.path, &path).is_some())
            });
        match owner.map(|(f, _)| f) {
            Some("register") => register::handle(&self.core, req).await,
            Some("login") => login::handle(&self.core, self.email.as_ref(), req).await,
            Some("send-code") => {
                send_code::handle(&self.core, self.sms.as_ref(), self.email.as_ref(), req).await
            }
            Some("verify-code") => verify_code::handle(&self.core, self.email.as_ref(), req).await,
            Some("manage-settings") => {
                manage_settings::handle(&self.core, self.email.as_ref(), req).await
            }
            _ => ApiError::not_found(format!("no route {} {path}", req.method())).into_response(),
        }
    }
}

/// The axum router: every request goes through [`LocalApi::dispatch`]. Serve it
/// with [`serve`] (or `into_make_service_with_connect_info::<SocketAddr>`) so the
/// handlers see the socket peer as the source address.
pub fn router(api: Arc<LocalApi>) -> axum::Router {
    axum::Router::new().fallback(serve_one).with_state(api)
}

/// Serves the local API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<LocalApi>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(api).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn serve_one(
    State(api): State<Arc<LocalApi>>,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let (mut parts, body) = req.into_parts();
    // The socket peer plays API Gateway's source IP.
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let user_agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    parts.extensions.insert(ClientInfo {
        source_ip: peer,
        user_agent,
    });
    let response = match axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(bytes) if bytes.len() <= MAX_BODY_BYTES => {
            let id = uuid::Uuid::new_v4();
            let span = tracing::info_span!("request", request_id = %id, method = %parts.method, path = %parts.uri.path());
            let req = http::Request::from_parts(parts, bytes.to_vec());
            let started = std::time::Instant::now();
            tracing::Instrument::instrument(
                async {
                    let response = api.dispatch(req).await;
                    tracing::info!(
                        status = response.status().as_u16(),
                        ms = started.elapsed().as_millis() as u64,
                        "served"
                    );
                    response
                },
                span,
            )
            .await
        }
        // Over the limit (or a broken stream): the contract's 413 either way.
        _ => ApiError::payload_too_large().into_response(),
    };
    response.map(Body::from)
}
