//! Waiting without sleeping a fixed time: a condition is polled until it
//! holds, or the deadline passes and the test fails saying what it waited for.

use std::future::Future;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it yields a value; `Err` names `what` at the deadline.
pub async fn until_some<T, F, Fut>(
    deadline: Duration,
    what: &str,
    mut check: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if start.elapsed() > deadline {
            return Err(format!("{what}: not within {deadline:?}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it holds.
pub async fn until<F, Fut>(deadline: Duration, what: &str, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(deadline, what, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}
