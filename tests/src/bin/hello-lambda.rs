//! The yardstick for cold starts: the smallest `lambda_http` function, built with the
//! workspace's release profile and started beside the real ones by
//! `infra/scripts/bench.sh`, so "init within 1.5x of hello world" compares like with like.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::Text("hello".into())))
    }))
    .await
}
