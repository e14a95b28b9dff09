//! twofa: the domain of a multi-tenant two-factor authentication service, and the
//! ports it needs with their adapters.
//!
//! Pure domain modules ([`policy`], [`audit`], [`lockout`], [`codes`], [`throttle`], [`totp`],
//! [`tokens`], [`devices`], [`user`], [`tenant`], [`email`], [`phone`], [`password`])
//! never name an AWS or HTTP type. Ports are narrow traits: [`store`] (adapters
//! `memory` and `dynamo`) and [`senders`] (`log`, `sns`, `twilio`, `ses`). [`api`]
//! is the HTTP edge every function shares; [`app`] wires the parts together.
//!
//! Three domain modules have a half that works through the [`app::Core`] for the
//! handlers: `policy::side` (reading a user's side), `lockout::attempt` (taking,
//! counting and ending an attempt in the store) and `tokens::issue` (a user's
//! tokens and the stamp rotation). They answer in the edge's
//! [`api::ApiError`]; the rules they apply stay in the pure parent module.
//! [`sign_in`] holds what is left of a sign-in: the pending one a two-factor
//! token carries on.
//!
//! The AWS adapters (`store::dynamo`, `senders::sns`, `senders::ses`, `sdk`,
//! `api::lambda` and the `app` builders that use them) are the default feature
//! `aws`; without it the crate builds without the AWS SDKs (the fuzz targets).
#![warn(missing_docs)]

pub mod amr;
pub mod api;
pub mod app;
pub mod audit;
pub mod clock;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod devices;
pub mod email;
pub mod ids;
mod jwt_crypto;
pub mod lockout;
pub mod password;
pub mod phone;
pub mod policy;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod secret;
pub mod senders;
pub mod sign_in;
pub mod store;
pub mod telemetry;
pub mod tenant;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod throttle;
pub mod timeouts;
pub mod tokens;
pub mod totp;
pub mod user;
