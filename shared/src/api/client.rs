//! Who sent a request, as the edge saw it: API Gateway's source IP and user agent
//! from the request context, or the local API's socket peer. Carried as a request
//! extension, since headers such as `X-Forwarded-For` are the client's to forge.

use std::net::IpAddr;

use super::Request;

/// The sender of a request, when the edge knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The address the connection came from.
    pub source_ip: Option<IpAddr>,
    /// The user agent as the edge recorded it.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// From the edge's text fields; an address that does not parse is unknown.
    pub fn new(source_ip: Option<&str>, user_agent: Option<&str>) -> Self {
        Self {
            source_ip: source_ip.and_then(|ip| ip.trim().parse().ok()),
            user_agent: user_agent.map(str::to_string),
        }
    }
}

/// The request's sender, or an unknown one (a request built in a test or by hand).
pub fn client_info(req: &Request) -> ClientInfo {
    req.extensions()
        .get::<ClientInfo>()
        .cloned()
        .unwrap_or_default()
}
