//! Logs: JSON lines in Lambda (CloudWatch reads them), readable text locally.
//! Secrets never reach them: they travel in [`crate::secret::Secret`], whose
//! `Debug` prints nothing, and the libraries that log what passes through them
//! are pinned ([`PINNED`]) whatever `RUST_LOG` asks for.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log targets (prefixes) held at `info` or quieter, whatever the filter says. At
/// `debug` and `trace` they log what we cannot vet: the Lambda runtime the raw
/// event (password, `Authorization`, cookie), the AWS SDK request and response
/// bodies and headers (codes sent through SNS and SES, items with hashes), the
/// HTTP and TLS stacks the bytes on the wire. `LogLevel` is a free template
/// parameter, so without this a secret would be one setting away.
pub const PINNED: &[&str] = &[
    "lambda_", "aws_", "hyper", "h2", "http", "rustls", "reqwest", "tower", "wiremock",
];

/// The filter of every log line: `rust_log` (`RUST_LOG`'s `target=level` list, or a
/// bare level; `info` when absent or unreadable) with [`PINNED`] held at `info`.
///
/// `Targets`, not `EnvFilter`: the span and field matchers `EnvFilter` adds are
/// never used here, and its regex engine was about 2.5 MB of every bootstrap's
/// objects (BENCHMARKS.md, "Cold start and size").
pub fn filter<S>(
    rust_log: Option<&str>,
) -> impl tracing_subscriber::layer::Filter<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let wanted = rust_log
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let pins = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(PINNED.iter().map(|t| (*t, LevelFilter::INFO)));
    wanted.and(pins)
}

/// Installs the global subscriber once; later calls do nothing. `RUST_LOG` filters (default `info`).
pub fn init() {
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let rust_log = std::env::var("RUST_LOG").ok();
    use std::io::IsTerminal;
    let ansi = !in_lambda && std::io::stdout().is_terminal();
    init_with(rust_log.as_deref(), in_lambda, ansi, std::io::stdout);
}

/// What [`init`] does, with the filter, format and destination given: JSON lines
/// (`json`, as in Lambda) or compact text. Tests capture the log with it.
pub fn init_with<W>(rust_log: Option<&str>, json: bool, ansi: bool, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::registry()
        .with(layer(rust_log, json, ansi, writer))
        .try_init();
}

/// The one log layer [`init`] installs, filtered by [`filter`].
pub fn layer<S, W>(
    rust_log: Option<&str>,
    json: bool,
    ansi: bool,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        // CloudWatch adds its own timestamp; the span list carries the request id.
        let fmt = fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .with_ansi(false);
        fmt.with_filter(filter(rust_log)).boxed()
    } else {
        fmt.compact()
            .with_ansi(ansi)
            .with_filter(filter(rust_log))
            .boxed()
    }
}
