//! The border with `lambda_http`: API Gateway events in, responses out, one span per
//! request carrying API Gateway's request id.

use std::future::Future;

use lambda_http::{Body, RequestExt};
use tracing::Instrument;

use super::{ClientInfo, Request, Response};

/// Converts an API Gateway request into the handlers' request, keeping the
/// sender from the request context as a [`ClientInfo`] extension.
pub fn into_request(req: lambda_http::Request) -> Request {
    let client = client_info(&req);
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(client);
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(s) => s.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    http::Request::from_parts(parts, bytes)
}

/// The sender as API Gateway saw it (HTTP API or REST API).
fn client_info(req: &lambda_http::Request) -> ClientInfo {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
            ClientInfo::new(c.http.source_ip.as_deref(), c.http.user_agent.as_deref())
        }
        Some(lambda_http::request::RequestContext::ApiGatewayV1(c)) => ClientInfo::new(
            c.identity.source_ip.as_deref(),
            c.identity.user_agent.as_deref(),
        ),
        _ => ClientInfo::default(),
    }
}

/// Converts a handler's response for API Gateway.
pub fn into_lambda(resp: Response) -> lambda_http::Response<Body> {
    resp.map(|s| {
        if s.is_empty() {
            Body::Empty
        } else {
            Body::Text(s)
        }
    })
}

/// The request id API Gateway gave this request, if any.
pub fn request_id(req: &lambda_http::Request) -> String {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
            c.request_id.clone().unwrap_or_default()
        }
        Some(lambda_http::request::RequestContext::ApiGatewayV1(c)) => {
            c.request_id.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The function's [`Core`](crate::app::Core), made by the first request
/// ([`CoreOnFirstUse`](crate::app::keys::CoreOnFirstUse)); until it can be made
/// (the keys secret unreadable, a setting unusable) every request is answered 503
/// `service_unavailable` and the cause, never a key, is logged.
pub async fn core(cell: &crate::app::keys::CoreOnFirstUse) -> Result<&crate::app::Core, Response> {
    cell.get().await.map_err(|e| {
        tracing::error!(variable = %e.var, reason = %e.reason, "the function cannot serve: its settings or keys are not usable");
        super::ApiError::service_unavailable().into_response()
    })
}

/// Runs a handler on Lambda until the runtime stops it.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response> + Send,
{
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        let span = tracing::info_span!("request", request_id = %request_id(&req), method = %req.method(), path = %req.uri().path());
        async move {
            let response = handler(into_request(req)).await;
            tracing::info!(status = response.status().as_u16(), "served");
            Ok::<_, std::convert::Infallible>(into_lambda(response))
        }
        .instrument(span)
    }))
    .await
}
