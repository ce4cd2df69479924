//! Intake throughput and latency with durable commits.
//!
//! Boots the real application (`Application::build`) on a loopback port with
//! a SQLite file in a temporary directory, then a load generator opens many
//! kept-alive HTTP/1.1 connections and posts distinct after-call webhooks as
//! fast as each connection gets its answers. Every answer is `200` only
//! after its event is committed (group commit, WAL, `synchronous=NORMAL`).
//! Server and load generator share the machine, as they would on 2 cores.
//!
//! Run: `cargo bench --bench intake -- [--connections N] [--requests N] [--rate R] [--quiet]`
//!
//! - without `--rate`, each connection sends its next request as soon as the
//!   previous one is answered (closed loop: the most the service can take);
//! - with `--rate R`, requests are sent on a fixed schedule of R per second
//!   across all connections (open loop), and latency counts from the
//!   scheduled moment, so a stall is not hidden by the senders waiting;
//! - `--quiet` turns log formatting off; by default every request is logged
//!   at info level into a sink, as the service does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use switchboard_core::config::{Environment, Settings};
use switchboard_core::startup::Application;
use tokio::net::TcpStream;

struct Options {
    connections: usize,
    requests: usize,
    warmup: usize,
    rate: Option<f64>,
    quiet: bool,
}

fn options() -> Options {
    let mut options = Options {
        connections: 64,
        requests: 30_000,
        warmup: 2_000,
        rate: None,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--connections" => options.connections = number("--connections"),
            "--requests" => options.requests = number("--requests"),
            "--warmup" => options.warmup = number("--warmup"),
            "--rate" => options.rate = Some(number("--rate") as f64),
            "--quiet" => options.quiet = true,
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    options
}

fn payload(n: usize) -> String {
    format!(
        r#"{{"uniqueid":"bench-{n}","calldate":"2025-09-30 14:05:12","call_type":"in","caller":"38073{:07}",
"dst":"380736506881","connected_with":"acmecom_ivanenko","disposition":"ANSWERED","duration":"74",
"billsec":"61","waittime":"13","recording":"https://app.ringostat.com/recordings/bench-{n}.wav?token=x",
"employee_fio":"Іваненко Олена","employee_number":"111111","department":"Sales","pool_name":"Google Ads",
"utm_source":"google","utm_medium":"cpc","utm_campaign":"brand","proper_flag":"1"}}"#,
        n % 10_000_000
    )
}

/// When request `n` (counted from the first of the run) is due.
#[derive(Clone, Copy)]
struct Schedule {
    start: Instant,
    first: usize,
    rate: Option<f64>,
}

impl Schedule {
    fn due(&self, n: usize) -> Option<Instant> {
        let rate = self.rate?;
        Some(self.start + Duration::from_secs_f64((n - self.first) as f64 / rate))
    }
}

/// One connection posting its webhooks one after another; returns the
/// latency of each.
async fn connection(addr: SocketAddr, ids: Vec<usize>, schedule: Schedule) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut latencies = Vec::with_capacity(ids.len());
    for n in ids {
        let request = Request::post("/webhooks/ringostat?event=after_call")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload(n))))
            .expect("request");
        let started = match schedule.due(n) {
            Some(due) => {
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(
            body.starts_with(b"{\"duplicate\":false"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    latencies
}

async fn load(
    addr: SocketAddr,
    first: usize,
    count: usize,
    connections: usize,
    rate: Option<f64>,
) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let schedule = Schedule {
        start: started,
        first,
        rate,
    };
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let ids: Vec<usize> = (first..first + count)
                .filter(|n| n % connections == c)
                .collect();
            tokio::spawn(connection(addr, ids, schedule))
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await.expect("connection task"));
    }
    (started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let options = options();
    if !options.quiet {
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::INFO)
            .init();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "listen: 127.0.0.1:0\nstore:\n  url: sqlite://{}/bench.db\n",
        dir.path().display()
    );
    let settings = Settings::from_yaml(&yaml, "bench", &Environment::default()).expect("settings");

    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let application = server
        .block_on(Application::build(
            settings,
            std::sync::Arc::new(switchboard_core::connector::dry_run::DryRunConnector::new()),
        ))
        .expect("application");
    let addr = application.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = server.spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    let client = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(load(addr, 0, options.warmup, options.connections, None));
    let (elapsed, mut latencies) = client.block_on(load(
        addr,
        options.warmup,
        options.requests,
        options.connections,
        options.rate,
    ));
    latencies.sort();

    let throughput = options.requests as f64 / elapsed.as_secs_f64();
    println!(
        "intake benchmark: {} cores, SQLite WAL synchronous=NORMAL, group commit",
        num_cpus()
    );
    println!("connections      {}", options.connections);
    println!(
        "requests         {} (after {} warm-up)",
        options.requests, options.warmup
    );
    match options.rate {
        Some(rate) => println!("schedule         open loop, {rate:.0} requests/s"),
        None => println!("schedule         closed loop, as fast as answered"),
    }
    println!(
        "logging          {}",
        if options.quiet {
            "off"
        } else {
            "info, formatted into a sink"
        }
    );
    println!("elapsed          {:.2} s", elapsed.as_secs_f64());
    println!("throughput       {throughput:.0} accepted webhooks/s");
    println!("latency p50      {}", ms(percentile(&latencies, 0.50)));
    println!("latency p90      {}", ms(percentile(&latencies, 0.90)));
    println!("latency p99      {}", ms(percentile(&latencies, 0.99)));
    println!("latency p99.9    {}", ms(percentile(&latencies, 0.999)));
    println!(
        "latency max      {}",
        ms(*latencies.last().expect("at least one request"))
    );

    let _ = stop.send(());
    server
        .block_on(serving)
        .expect("server task")
        .expect("server stopped cleanly");
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}
