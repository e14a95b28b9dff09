//! twofa: the domain of a multi-tenant two-factor authentication service, the
//! ports it needs with their adapters, the use cases the handlers drive, and the
//! HTTP edge they share.
//!
//! The modules form layers (the module map in docs/development.md, which the test
//! `tests/tests/it/module_map.rs` checks): no module imports a higher layer, and no
//! two modules import each other.
//!
//! 1. Foundations: [`clock`], [`secret`], [`timeouts`], [`email`], [`phone`],
//!    [`crypto`], [`telemetry`], [`ids`] (typed identifiers), [`amr`] (the sign-in
//!    methods).
//! 2. Primitives: [`password`], [`totp`], [`codes`], [`devices`].
//! 3. Records and rules, pure: [`side`] (the host's or a tenant's, where every
//!    record lives), [`lockout`], [`throttle`], [`tokens`], [`user`], [`policy`],
//!    [`tenant`] (with a side's policy, [`tenant::SidePolicy`]), [`audit`],
//!    [`sessions`] (signed-in sessions and their refresh tokens).
//! 4. Ports and adapters: [`config`], `sdk`, [`store`] (adapters `memory` and
//!    `dynamo`), [`senders`] (`log`, `sns`, `twilio`, `ses`).
//! 5. The application, [`app`]: the [`app::Core`] a handler works through, and the
//!    use cases it drives through it, [`app::flows`] (attempts, sessions and tokens,
//!    a pending sign-in, a side's policy), answering one error type,
//!    [`app::flows::FlowError`]. They are re-exported as [`flows`]. A Lambda
//!    function's `Core` is made by its first request (`app::keys`), which reads the
//!    keys secret.
//! 6. The HTTP edge every function shares: [`api`], which maps a `FlowError` to
//!    its status and contract code in one place.
//!
//! Layers 1 to 4 never name an HTTP type, and only the adapters an AWS one.
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
pub use app::flows;
pub mod ids;
mod jwt_crypto;
pub mod lockout;
pub mod passkeys;
pub mod password;
pub mod phone;
pub mod policy;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod secret;
pub mod senders;
pub mod sessions;
pub mod side;
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
