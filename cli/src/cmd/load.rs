//! `filterbench load --target URL`: our load generator against an Envoy (or sidecar) we did
//! not start, every response checked; A/B with `--target-b`, rounds interleaved. Results go to
//! the same results file and report as `run`'s. Also `__serve`, the other side in the tests:
//! Envoy variants of a filter and our upstream, listening for a `load` from elsewhere.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};
use filterbench_results::vocab::{ArmKind, arm};
use filterbench_results::{ArmInfo, Batch, FilterInfo, Results};
use filterbench_runners::envoy::expect::Expect;
use filterbench_runners::envoy::http::{RequestTemplate, status_of};
use filterbench_runners::envoy::protocol::Protocol;
use filterbench_runners::envoy::remote::{self, LoadSettings, Target, Url};
use filterbench_runners::measure::{self, Plan, probes};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("mode").args(["closed_loop", "rate"])))]
pub struct Args {
    /// The target (A): `http://HOST:PORT[/path]` of an Envoy or sidecar (cleartext).
    #[arg(long)]
    target: String,
    /// A second target (B: the same without the filter), loaded in rounds interleaved with
    /// A; its responses are checked for their status.
    #[arg(long)]
    target_b: Option<String>,
    /// The arm A's figures are recorded under: remote-a, or the Envoy variant it runs (e.g.
    /// envoy-wasm-v8, so the report compares it with B as it does local variants).
    #[arg(long, default_value = arm::REMOTE_A)]
    arm_a: String,
    /// The arm B's figures are recorded under: remote-b, or the Envoy variant it runs (e.g.
    /// envoy-none).
    #[arg(long, default_value = arm::REMOTE_B)]
    arm_b: String,
    /// The filter behind A: its bench fixture's request is sent, and the status and response
    /// headers its native build gives in process are checked on every response.
    #[arg(long)]
    filter: Option<String>,
    /// The filter's benchmark scenario (default: its first HTTP one).
    #[arg(long, requires = "filter")]
    scenario: Option<String>,
    /// A response header A must show, `name=value` (repeatable).
    #[arg(long, value_parser = parse_header)]
    expect_header: Vec<(String, String)>,
    /// The status A must answer (default: the filter's, else 200).
    #[arg(long)]
    expect_status: Option<u16>,
    /// The status B must answer (default: the filter's upstream response's, else 200).
    #[arg(long, requires = "target_b")]
    expect_status_b: Option<u16>,
    /// Closed loop on this many connections (the default: 8).
    #[arg(long, value_name = "CONNS")]
    closed_loop: Option<u32>,
    /// Open loop at this many requests/s per target (1 to 1e9), latency coordinated-omission
    /// corrected.
    #[arg(long, value_name = "RPS", value_parser = parse_rate)]
    rate: Option<f64>,
    /// Connections the open loop's schedule is spread over.
    #[arg(long, default_value_t = 8)]
    connections: u32,
    /// Timed milliseconds per target × protocol, over the rounds.
    #[arg(long, default_value_t = 1000)]
    duration_ms: u64,
    /// Checked, untimed milliseconds per target × protocol before the rounds.
    #[arg(long, default_value_t = 100)]
    warmup_ms: u64,
    /// Rounds; in each, every target × protocol gets one turn (order rotated per round).
    #[arg(long, default_value_t = 4)]
    rounds: u32,
    /// HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    #[arg(long)]
    http2: bool,
    /// Protocols, interleaved in the rounds (http1,h2c compares them per target).
    #[arg(long, value_delimiter = ',', conflicts_with = "http2")]
    protocols: Vec<Protocol>,
    /// Results file (default: results/<timestamp>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not write the HTML report beside the results.
    #[arg(long)]
    no_report: bool,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{s}`: expected name=value"))
}

/// The highest `--rate`: 1 ns between one connection's requests, the finest schedule a
/// `Duration` holds (a higher rate would have none, and never end).
const MAX_RATE: f64 = 1e9;

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.trim().parse().map_err(|e| format!("`{s}`: {e}"))?;
    if (1.0..=MAX_RATE).contains(&r) {
        Ok(r)
    } else {
        Err(format!("`{s}`: a rate from 1 to {MAX_RATE:e} requests/s"))
    }
}

/// The filter name figures are recorded under when no `--filter` is given.
const UNNAMED_FILTER: &str = "target";
/// Its scenario: the URL's path, GET.
const GET: &str = "get";

fn known_arm(name: &str) -> Result<()> {
    if arm::REMOTE.contains(&name) || arm::ENVOY.contains(&name) {
        return Ok(());
    }
    let known: Vec<&str> = arm::REMOTE.iter().chain(&arm::ENVOY).copied().collect();
    bail!("unknown arm `{name}` (known: {})", known.join(", "))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    let out_path = super::results_path(args.out.clone(), started)?;
    known_arm(&args.arm_a)?;
    known_arm(&args.arm_b)?;
    if args.target_b.is_some() && args.arm_a == args.arm_b {
        bail!("--arm-a and --arm-b are both {}", args.arm_a);
    }
    let url_a = remote::parse_url(&args.target)?;
    let url_b = args
        .target_b
        .as_deref()
        .map(remote::parse_url)
        .transpose()?;
    // The request, what A must show, and B's status (the same exchange without the filter).
    let (filter, scenario, req, mut expect_a, status_b, filters) = match &args.filter {
        Some(f) => {
            let sc = remote::scenario(f, args.scenario.as_deref())?;
            let filterbench_runners::measure::scenario::Workload::Http(ex) = &sc.workload else {
                bail!("{f}: not an HTTP scenario");
            };
            let req = RequestTemplate::from_message(&ex.request);
            let expect = remote::expect_from_fixtures(&sc)?;
            let mut plan = Plan::quick();
            plan.filters = vec![f.clone()];
            plan.scenarios = vec![sc.name.clone()];
            let infos = measure::describe_filters(&plan).map_err(anyhow::Error::msg)?;
            let status = status_of(&ex.response.headers);
            (f.clone(), sc.name.clone(), req, expect, status, infos)
        }
        None => {
            let req = RequestTemplate {
                method: "GET".into(),
                path: "/".into(),
                headers: vec![(b"host".to_vec(), url_a.authority.clone().into_bytes())],
                body: Default::default(),
            };
            let info = FilterInfo {
                name: UNNAMED_FILTER.into(),
                kind: "http".into(),
                ..Default::default()
            };
            (
                UNNAMED_FILTER.into(),
                GET.into(),
                req,
                Expect::status(200),
                200,
                vec![info],
            )
        }
    };
    if let Some(s) = args.expect_status {
        expect_a.status = s;
    }
    for (k, v) in &args.expect_header {
        expect_a.needs_response_header(k, v);
    }
    let target = |arm: &str, url: Url, expect: Expect| {
        let mut req = req.clone();
        if let Some(p) = &url.path {
            req.path = p.clone();
        }
        Target {
            arm: arm.to_string(),
            url,
            req,
            expect,
        }
    };
    let mut targets = vec![target(&args.arm_a, url_a, expect_a)];
    if let Some(u) = url_b {
        let status_b = args.expect_status_b.unwrap_or(status_b);
        targets.push(target(&args.arm_b, u, Expect::status(status_b)));
    }
    let protocols = match (args.http2, args.protocols.is_empty()) {
        (true, _) => vec![Protocol::H2c],
        (false, true) => vec![Protocol::Http1],
        (false, false) => args.protocols.clone(),
    };
    let s = LoadSettings {
        protocols,
        connections: args.closed_loop.unwrap_or(if args.rate.is_some() {
            args.connections
        } else {
            8
        }),
        rate: args.rate,
        duration: Duration::from_millis(args.duration_ms),
        rounds: args.rounds,
        warmup: Duration::from_millis(args.warmup_ms),
    };

    let mut results = Results::new();
    results.started_unix = started;
    results.command_line = std::env::args().collect();
    results.profile = "load".into();
    results.machine = probes::machine();
    let urls = [Some(&args.target), args.target_b.as_ref()];
    results.arms = targets
        .iter()
        .zip(urls.into_iter().flatten())
        .map(|(t, url)| ArmInfo {
            name: t.arm.clone(),
            kind: ArmKind::Envoy,
            version: "a target filterbench did not start".into(),
            flags: flags(
                &s,
                url,
                &t.expect,
                args.filter.is_some() && t.arm == args.arm_a,
            ),
        })
        .collect();
    let t0 = std::time::Instant::now();
    let mut batch = Batch::default();
    let tallies = remote::measure(&s, &filter, &scenario, &targets, &mut batch);
    let mut filters = filters;
    for f in &mut filters {
        f.scenarios.clear();
        for r in &batch.rows {
            if !f.scenarios.contains(&r.scenario) {
                f.scenarios.push(r.scenario.clone());
            }
        }
    }
    results.filters = filters;
    results.merge(batch);
    results.duration_s = t0.elapsed().as_secs_f64();
    results.complete = true;
    results.write(&out_path)?;
    for t in &tallies {
        let verdict = match (t.errors, &t.first_error) {
            (0, _) if t.completed > 0 => "every response verified".to_string(),
            (n, first) => format!(
                "{n} failed: {}",
                first.as_deref().unwrap_or("none completed")
            ),
        };
        println!(
            "{} {} ({}): {} responses, {:.0} req/s; {verdict}",
            t.arm,
            t.scenario,
            t.protocol.label(),
            t.completed,
            t.rps
        );
    }
    // Every table: the short answer is built on CPU per request, which a target we did not
    // start has not.
    print!("{}", super::summary::render(&results));
    let report = super::report_note(&out_path, args.no_report);
    println!("results: {}{report}", out_path.display());
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What an arm's flags say: where it is, how it was loaded, what was checked.
fn flags(s: &LoadSettings, url: &str, expect: &Expect, filter: bool) -> String {
    let protocols: Vec<&str> = s.protocols.iter().map(|p| p.label()).collect();
    let mode = match s.rate {
        Some(r) => format!(
            "open loop at {r:.0} req/s over {} connections",
            s.connections
        ),
        None => format!("closed loop, {} connections", s.connections),
    };
    format!(
        "target {url}; {}; {mode}; our generator, rounds interleaved with the other targets; \
         every response checked: status {}{}; its CPU is not read (not our process)",
        protocols.join(" and "),
        expect.status,
        if filter {
            " and the response headers the filter adds, changes or removes (its fixture)"
        } else {
            ""
        }
    )
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The filter whose variants to serve (its first HTTP scenario's upstream response).
    #[arg(long)]
    filter: String,
    /// Envoy variants, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [arm::ENVOY_NONE.to_string(), arm::ENVOY_WASM_V8.to_string()])]
    variants: Vec<String>,
    /// Envoy to our upstream (and the generator to Envoy) over h2c.
    #[arg(long)]
    http2: bool,
    /// The address Envoy's listeners bind (port: any free one); loopback unless asked, as
    /// anything that reaches them reaches our upstream.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// Where configs and logs go (default: a temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long)]
    envoy_bin: Option<PathBuf>,
}

/// Serves until standard input closes, then stops everything (and with us dead, Envoy dies too:
/// parent-death signal). Prints `<variant> <address>` per listener, then `ready`.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    use filterbench_runners::envoy::process;
    let bin = process::find(args.envoy_bin.as_deref())?;
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let protocol = if args.http2 {
        Protocol::H2c
    } else {
        Protocol::Http1
    };
    let served = filterbench_runners::envoy::serve::serve(
        &bin,
        &args.filter,
        &args.variants,
        protocol,
        args.listen,
        &dir,
    )?;
    let mut out = std::io::stdout().lock();
    for (name, addr) in served.listeners() {
        writeln!(out, "{name} {addr}")?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(served);
    Ok(ExitCode::SUCCESS)
}
