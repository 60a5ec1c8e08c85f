//! The probe in live Envoy: the `.wasm` on V8 and the native build as a dynamic module. A
//! fresh Envoy per access (one worker, so both streams of `other-stream` share the VM), so a
//! trap that breaks the VM hides no other attempt; each Envoy is stopped (its guard) before
//! the next starts. Requests are plain HTTP/1.1 written by hand: `park` must stay open.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use filterbench_results::vocab::{arm, reach};

use super::{ANSWERS, Attempt, Canaries, SECRET, SELECT, Verdict, is_refusal_trap, judge};
use crate::catalog::Filter;
use crate::envoy::config::{self, Builds};
use crate::envoy::process::Envoy;

/// The Envoy variants the probe runs on.
pub const VARIANTS: [&str; 2] = [arm::ENVOY_WASM_V8, arm::ENVOY_NATIVE_MODULE];

/// How long a probe request may take (a hung one counts as no answer).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where Envoy runs from and writes.
pub struct Setup<'a> {
    pub bin: &'a Path,
    pub version: &'a str,
    /// Configs and logs, kept for reading afterwards.
    pub dir: &'a Path,
}

/// Runs every access on the Envoy `variant`; Err: the variant cannot run here (why).
pub fn run(
    variant: &str,
    probe: &Filter,
    setup: &Setup,
    c: &mut Canaries,
) -> Result<Vec<Attempt>, String> {
    run_some(variant, probe, setup, c, &reach::ALL)
}

/// Runs `accesses` only (a fresh Envoy each) on the Envoy `variant`.
pub fn run_some(
    variant: &str,
    probe: &Filter,
    setup: &Setup,
    c: &mut Canaries,
    accesses: &[&'static str],
) -> Result<Vec<Attempt>, String> {
    let wasm = probe
        .artifacts
        .wasm
        .clone()
        .ok_or("the probe has no .wasm build")?;
    let module = match (
        &probe.artifacts.native,
        config::dynamic_module(setup.version),
    ) {
        (Some(lib), Ok(m)) => Some((m, lib.clone())),
        (None, _) => None,
        (Some(_), Err(e)) if variant == arm::ENVOY_NATIVE_MODULE => return Err(e),
        (Some(_), Err(_)) => None,
    };
    let builds = Builds { wasm, module };
    let cfg = c.config(false).to_string();
    let v = config::variants(reach::PROBE_FILTER, &builds, &cfg)
        .into_iter()
        .find(|v| v.name == variant)
        .ok_or_else(|| format!("{variant} cannot run the probe here"))?;
    std::fs::create_dir_all(setup.dir).map_err(|e| e.to_string())?;
    // The upstream is never reached but by the resumed parked stream: a closed port (503).
    let dead = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // No `vm_config.environment_variables`: the V8 probe's WASI environment is what a default
    // deployment gives it.
    let bootstrap = config::bootstrap(&v, dead);
    let path: PathBuf = setup.dir.join(format!("reach-{variant}.json"));
    let body = serde_json::to_string_pretty(&bootstrap).map_err(|e| e.to_string())?;
    std::fs::write(&path, body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for &access in accesses {
        let name = format!("reach-{variant}-{access}");
        let mut envoy = Envoy::start(setup.bin, &path, 1, setup.dir, &name)
            .map_err(|e| format!("Envoy did not start: {e}"))?;
        while c.accepted().is_some() {}
        let answer = ask(envoy.listener, access, c);
        // The native module writes over the canary's value in Envoy's environment block.
        let environ = std::fs::read(format!("/proc/{}/environ", envoy.pid)).unwrap_or_default();
        let wrote = String::from_utf8_lossy(&environ).contains(&c.write_value);
        let connected = c.accepted();
        let alive = envoy.check_alive().map_err(|e| e.to_string());
        // Read once Envoy has stopped: it flushes its log on exit.
        let log_path = envoy.log.clone();
        drop(envoy);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let mut a = match (answer, &alive) {
            // Envoy died: whatever it answered before says nothing about the sandbox.
            (_, Err(died)) => {
                Attempt::new(access, Verdict::NoVerdict, format!("no verdict: {died}"))
            }
            (Ok(body), Ok(())) => judge(access, Ok(&body), c, wrote, connected.as_deref()),
            // No answer from the probe: a refusal only when Envoy logged the sandbox's trap
            // of this very access (the 5xx is Envoy's reply to the trapped filter).
            (Err(why), Ok(())) => match error_line(&log) {
                Some(line) if is_refusal_trap(access, &line) => {
                    Attempt::new(access, Verdict::Refused, format!("trapped: {line} ({why})"))
                }
                Some(line) => Attempt::new(
                    access,
                    Verdict::NoVerdict,
                    format!("no verdict: {why}; Envoy logged: {line}"),
                ),
                None => Attempt::new(access, Verdict::NoVerdict, format!("no verdict: {why}")),
            },
        };
        if a.verdict == Verdict::NotAttempted && access == reach::OOB_WRITE {
            a.said = format!(
                "{}; (Envoy's process gives the harness no address to offer)",
                a.said
            );
        }
        out.push(a);
    }
    Ok(out)
}

/// The last error Envoy logged (a trap, a failed VM), without its time and source prefix.
fn error_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .find(|l| l.contains("][error][") || l.contains("][critical]["))
        .map(|l| {
            let text = l.rsplit_once("] ").map_or(l, |(_, t)| t);
            text.chars().take(240).collect()
        })
}

/// Sends the access's request (after parking a stream for `other-stream`); the probe's
/// answer body, or why there was none.
fn ask(addr: SocketAddr, access: &str, c: &Canaries) -> Result<String, String> {
    let _parked = if access == reach::OTHER_STREAM {
        let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
        s.write_all(request(c, reach::PARK, &c.park_secret).as_bytes())
            .map_err(|e| e.to_string())?;
        // Envoy must have run the parked stream's request headers before the second arrives.
        std::thread::sleep(Duration::from_millis(300));
        Some(s)
    } else {
        None
    };
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.write_all(request(c, access, &c.own_secret).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let read = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    // The probe names the access it answers; a reply naming another judges nothing.
    let named = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(ANSWERS)
            .then(|| v.trim().to_string())
    });
    match named {
        Some(n) if n == access => return Ok(body.to_string()),
        Some(n) => return Err(format!("the probe answered {n}, not {access}")),
        None => {}
    }
    match (status.is_empty(), read) {
        (true, Err(e)) => Err(format!("no answer: {e}")),
        (true, Ok(_)) => Err("no answer: the connection closed".into()),
        (false, _) => Err(format!(
            "the probe did not answer: {status} {}",
            body.trim()
        )),
    }
}

fn request(c: &Canaries, access: &str, secret: &str) -> String {
    format!(
        "GET {} HTTP/1.1\r\nhost: reach.test\r\n{SELECT}: {access}\r\n{SECRET}: {secret}\r\n\
         connection: close\r\n\r\n",
        c.path
    )
}
