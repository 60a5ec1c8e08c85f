//! The probe on the in-process arms (every engine of the registry and the native build): a
//! fresh VM per access, so a trap in one attempt cannot hide the next.

use filterbench_results::vocab::reach;

use super::{ANSWERS, Attempt, Canaries, SECRET, SELECT, Verdict, judge};
use crate::catalog::Filter;
use crate::engines::{self, EngineError, Limits, LoadedModule};
use crate::host::callbacks::Callback;
use crate::host::state::{Clock, HeaderMap, HostState, LocalReply, SharedData, StreamState};
use crate::host::vm::{HttpExchange, Message, Vm, VmError};

/// Context ids of the two streams of `other-stream`, clear of the driver's own (2, 3, …).
const PARKED_CTX: u64 = 1000;
const PROBING_CTX: u64 = 1001;

fn headers(c: &Canaries, access: &str, secret: &str) -> HeaderMap {
    [
        (":method", "GET"),
        (":path", c.path.as_str()),
        (":authority", "reach.test"),
        (SELECT, access),
        (SECRET, secret),
    ]
    .into_iter()
    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect()
}

/// Runs every access on `arm`; an arm that cannot load or start the probe is an error (why).
pub fn run(
    arm: &str,
    probe: &Filter,
    limits: &Limits,
    c: &mut Canaries,
) -> Result<Vec<Attempt>, String> {
    let load =
        || -> Result<_, EngineError> { engines::engine(arm, limits)?.load(&probe.artifacts) };
    let module = load().map_err(|e| e.to_string())?;
    let native = engines::REGISTRY
        .iter()
        .any(|e| e.name == arm && e.is_native);
    let config = serde_json::to_vec(&c.config(native)).unwrap_or_default();
    let mut out = Vec::new();
    for access in reach::ALL {
        c.reset_write();
        while c.accepted().is_some() {}
        let answer = attempt(&*module, &config, access, c)?;
        let wrote = c.written();
        let connected = c.accepted();
        out.push(match answer {
            Reply::Body(body) => judge(access, Ok(&body), c, wrote, connected.as_deref()),
            Reply::Trap(trap) => judge(access, Err(&trap), c, wrote, connected.as_deref()),
            Reply::Other(why) => Attempt::new(access, Verdict::NoVerdict, why),
        });
    }
    Ok(out)
}

/// What one attempt gave.
enum Reply {
    /// The probe's answer to this very access.
    Body(String),
    /// The trap (or stopped callback) that ended the attempt.
    Trap(String),
    /// A reply that is not the probe's answer to this access (why): no verdict.
    Other(String),
}

/// One access on a fresh VM; Err: the probe could not be run at all.
fn attempt(
    module: &dyn LoadedModule,
    config: &[u8],
    access: &str,
    c: &Canaries,
) -> Result<Reply, String> {
    let host = HostState::new(Some(config.to_vec()), Clock::System, SharedData::new());
    let mut vm = Vm::start(module, host).map_err(|e| format!("VM start: {e}"))?;
    if !vm.configure().map_err(|e| format!("configure: {e}"))? {
        return Err("the probe refused its configuration".into());
    }
    let reply = if access == reach::OTHER_STREAM {
        other_stream(&mut vm, c)
    } else {
        let ex = HttpExchange {
            request: Message {
                headers: headers(c, access, &c.own_secret),
                ..Message::default()
            },
            response: Message::default(),
        };
        vm.http(&ex).map(|o| o.local_reply)
    };
    match reply {
        Ok(Some(r)) => {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            // The probe names the access it answers: a reply of anything else judges nothing.
            let named = r
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(ANSWERS.as_bytes()) && v == access.as_bytes());
            Ok(if named {
                Reply::Body(body)
            } else {
                Reply::Other(format!(
                    "no verdict: a reply {} that does not name {access}: {body}",
                    r.status
                ))
            })
        }
        Ok(None) => Err(format!(
            "the probe did not answer {access} (no local reply)"
        )),
        // A trap (or a stopped callback): judged by whether it is the refusal of this access.
        Err(e @ (VmError::Call(_) | VmError::Said { .. })) => Ok(Reply::Trap(e.to_string())),
        Err(e) => Err(format!("{access}: {e}")),
    }
}

/// Two streams on one VM: the first parked (paused at its request headers), the second tries
/// to switch to it and read its secret. The host keeps one stream's state at a time, so the
/// parked stream's headers are set aside while the second runs.
fn other_stream(vm: &mut Vm, c: &Canaries) -> Result<Option<LocalReply>, VmError> {
    open_stream(vm, c, PARKED_CTX, reach::PARK, &c.park_secret)?;
    let _parked = std::mem::take(&mut vm.host().stream);
    open_stream(vm, c, PROBING_CTX, reach::OTHER_STREAM, &c.own_secret)?;
    Ok(vm.host().stream.local_reply.take())
}

/// Creates stream context `ctx` and delivers its request headers.
fn open_stream(
    vm: &mut Vm,
    c: &Canaries,
    ctx: u64,
    access: &str,
    secret: &str,
) -> Result<Option<u64>, VmError> {
    let h = headers(c, access, secret);
    let n = h.len() as u64;
    vm.host().stream = StreamState {
        maps: [h, Vec::new(), Vec::new(), Vec::new()],
        ..StreamState::default()
    };
    // The driver sets the effective context per callback, as Envoy does.
    vm.host().effective_context = ctx as u32;
    vm.instance().call(Callback::OnContextCreate, &[ctx, 1])?;
    vm.host().effective_context = ctx as u32;
    Ok(vm
        .instance()
        .call(Callback::OnRequestHeaders, &[ctx, n, 1])?)
}
