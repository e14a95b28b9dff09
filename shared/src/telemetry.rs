//! Logs: JSON lines in Lambda (CloudWatch reads them), readable text locally.
//! Secrets never reach them: they travel in [`crate::secret::Secret`], whose
//! `Debug` prints nothing.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing. `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if in_lambda {
        // CloudWatch adds its own timestamp; the span list carries the request id.
        builder.json().with_current_span(true).with_span_list(false).without_time().with_ansi(false).try_init()
    } else {
        use std::io::IsTerminal;
        builder.compact().with_ansi(std::io::stdout().is_terminal()).try_init()
    };
}
