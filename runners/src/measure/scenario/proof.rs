//! The proof every timed request goes through: its full outcome, and what it changed in the
//! host, against the verified request's (or, for an outcome that changes with every
//! repetition, against the reference arm's request of the same index).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::Scenario;
use super::same::same_step;
use crate::engines::LoadedModule;
use crate::fixtures::Step;
use crate::host::{HeaderMap, HostState, Vm};

/// The full outcome of one request as a 64-bit hash: both header lists and bodies as
/// forwarded and the local reply (status, details, body, headers, gRPC status); for TCP the
/// bytes forwarded each way and whether the connection was closed. `None` for a failure.
pub fn signature(step: &Step) -> Option<Signature> {
    let mut h = OutcomeHasher::default();
    match step {
        Step::Http(o) => {
            0u8.hash(&mut h);
            o.request_headers.hash(&mut h);
            o.request_body.hash(&mut h);
            o.response_headers.hash(&mut h);
            o.response_body.hash(&mut h);
            if let Some(r) = &o.local_reply {
                (r.status, &r.details, &r.body, &r.headers, r.grpc_status).hash(&mut h);
            }
            o.calls.hash(&mut h);
        }
        Step::Tick(o) => {
            2u8.hash(&mut h);
            o.calls.hash(&mut h);
        }
        Step::Tcp(o) => {
            1u8.hash(&mut h);
            (&o.downstream_forwarded, &o.upstream_forwarded, o.closed).hash(&mut h);
            o.calls.hash(&mut h);
        }
        Step::Failed(_) => return None,
    }
    Some(h.finish())
}

/// The hasher of [`signature`]: FxHash's word step (rotate, xor, multiply), a word at a time.
/// Several times faster than SipHash on an outcome's many short fields, which is what makes
/// checking every timed request affordable; outcomes are ours, not adversarial input. Each
/// step is a bijection of the state, so one changed word always changes the result.
#[derive(Default)]
struct OutcomeHasher(u64);

impl OutcomeHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for OutcomeHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }
    fn write_u32(&mut self, n: u32) {
        self.add(n.into());
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn write_i32(&mut self, n: i32) {
        self.add(n as u64);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A request's signature (see [`signature`]).
pub type Signature = u64;

/// The proof every timed request of one VM goes through: its full outcome ([`signature`]),
/// plus what it changed in the VM's host state (each metric's delta, the properties set).
/// Cheap enough for the timed loop: the outcome compared with the first one field by field
/// (`same_step`; or, for a varying scenario, hashed and pushed as one u64), no allocation;
/// what differed is worked out only on a failure.
///
/// Most scenarios must give every request the first one's outcome. A scenario whose outcome
/// legitimately changes from one repetition to the next (fixture `bench_varies`: a counter in
/// a header, a token bucket) must give request i the reference arm's request i instead:
/// those hashes are compared against an untimed reference VM by [`Proof::settle`].
#[derive(Clone, Debug)]
pub struct Proof {
    want: Want,
    /// Metric values after the previous request, for the deltas.
    metrics: Vec<(i64, u64, u64)>,
    /// Requests checked on this VM (the index of the next one).
    requests: u64,
    /// The first request's outcome, to say what differed.
    first: Option<Step>,
    /// The first request that differed: its index and its outcome (or why, once settled).
    failed: Option<(u64, Result<Step, String>)>,
}

#[derive(Clone, Debug)]
enum Want {
    /// Every request the first one's outcome, compared field by field, and what the first
    /// changed in the host (set by the first check).
    Same(Option<Signature>),
    /// Request i the i-th of `known` (already proven), then recorded in `seen` for
    /// [`Proof::settle`].
    Sequence {
        known: Arc<Vec<Signature>>,
        seen: Vec<Signature>,
    },
}

impl Proof {
    /// The proof for a VM about to run its first request (so metric deltas start here);
    /// `varies`: the scenario's outcome changes from one repetition to the next.
    pub fn new(vm: &mut Vm, varies: bool) -> Proof {
        let want = if varies {
            Want::Sequence {
                known: Arc::default(),
                seen: Vec::new(),
            }
        } else {
            Want::Same(None)
        };
        Proof::start(vm, want, None)
    }

    fn start(vm: &mut Vm, want: Want, first: Option<Step>) -> Proof {
        let list = &vm.host().metrics.list;
        Proof {
            want,
            metrics: list.iter().map(|m| (m.value, m.count, m.sum)).collect(),
            requests: 0,
            first,
            failed: None,
        }
    }

    /// The same proof for another VM of the same scenario and arm (about to run its first
    /// request): it owes what this one's requests produced, in order.
    pub fn fresh(&self, vm: &mut Vm) -> Proof {
        let want = match &self.want {
            Want::Same(w) => Want::Same(*w),
            Want::Sequence { known, seen } => Want::Sequence {
                known: Arc::new(known.iter().chain(seen).copied().collect()),
                seen: Vec::new(),
            },
        };
        Proof::start(vm, want, self.first.clone())
    }

    /// Signature of the step plus the host state the request changed; updates the deltas.
    /// What the request changed in the host: each metric's delta and the properties set, as
    /// one hash; updates the deltas.
    fn host_changes(&mut self, host: &HostState) -> Signature {
        let mut h = OutcomeHasher::default();
        let list = &host.metrics.list;
        self.metrics.resize(list.len(), (0, 0, 0));
        for (m, prev) in list.iter().zip(self.metrics.iter_mut()) {
            let now = (m.value, m.count, m.sum);
            (
                now.0.wrapping_sub(prev.0),
                now.1.wrapping_sub(prev.1),
                now.2.wrapping_sub(prev.2),
            )
                .hash(&mut h);
            *prev = now;
        }
        // Order-independent: a HashMap's order differs from one VM to the next. (Most filters
        // set none: an empty map's iterator still walks its control bytes.)
        let props = if host.properties.is_empty() {
            0
        } else {
            host.properties.iter().fold(0u64, |acc, kv| {
                let mut e = OutcomeHasher::default();
                kv.hash(&mut e);
                acc.wrapping_add(e.finish())
            })
        };
        props.hash(&mut h);
        h.finish()
    }

    /// Checks one request's outcome (in the timed loop). False once any request differed
    /// or failed.
    pub fn check(&mut self, step: &Step, vm: &mut Vm) -> bool {
        let host = self.host_changes(vm.host());
        let i = self.requests;
        self.requests += 1;
        let first = self.first.get_or_insert_with(|| step.clone());
        let ok = match &mut self.want {
            _ if matches!(step, Step::Failed(_)) => false,
            // Compared, not hashed: equal outcomes (the rule) cost a length check and a word
            // compare or two per field, not a multiply chain over every byte.
            Want::Same(want) => *want.get_or_insert(host) == host && same_step(step, first),
            Want::Sequence { known, seen } => {
                let mut h = OutcomeHasher::default();
                (signature(step), host).hash(&mut h);
                let got = h.finish();
                match known.get(i as usize) {
                    Some(want) => *want == got,
                    None => {
                        seen.push(got);
                        true
                    }
                }
            }
        };
        if !ok && self.failed.is_none() {
            self.failed = Some((i, Ok(step.clone())));
        }
        self.failed.is_none()
    }

    /// Requests checked so far on this VM, the verified first one included.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// After the clock stopped: the recorded requests of a varying scenario against the
    /// `reference` VM's (nothing to do for the others). False if one differed.
    pub fn settle(&mut self, reference: &mut Reference, own: &dyn LoadedModule) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let Want::Sequence { known, seen } = &mut self.want else {
            return true;
        };
        let start = known.len();
        let bad = seen.iter().enumerate().find_map(|(j, got)| {
            let i = start + j;
            (reference.signature(i) != Some(*got)).then_some(i)
        });
        if let Some(i) = bad {
            let why = format!(
                "request #{i} of the timed VM differs from request #{i} of an untimed VM of {}: {}",
                reference.label,
                reference.explain(i, own)
            );
            self.failed = Some((i as u64, Err(why)));
            return false;
        }
        *known = Arc::new(known.iter().chain(seen.iter()).copied().collect());
        seen.clear();
        true
    }

    /// Why the proof failed, naming the request and the first field that differed;
    /// `None` while every request matched.
    pub fn explain(&self) -> Option<String> {
        let (i, got) = self.failed.as_ref()?;
        Some(match (got, &self.want, &self.first) {
            (Err(why), _, _) => why.clone(),
            (Ok(got), Want::Same(_), Some(first)) => format!(
                "request #{i} of the timed VM (#0 is the verified one) differs: {}",
                first_difference(first, got)
            ),
            (Ok(got), _, _) => format!(
                "request #{i} of the timed VM differs from the reference's request #{i} (the \
                 outcome changes with every request here){}",
                match got {
                    Step::Failed(e) => format!(": it failed: {e}"),
                    _ => String::new(),
                }
            ),
        })
    }
}

/// How far into a run a failed request is re-run to say which field differed.
const EXPLAIN_RERUN_MAX: usize = 1_000_000;

/// An untimed VM of the reference arm whose request signatures a varying scenario's timed
/// requests must reproduce, in order; run only as far as needed, after the clock stopped.
pub struct Reference<'a> {
    sc: &'a Scenario,
    module: &'a dyn LoadedModule,
    /// Which arm, for messages.
    label: String,
    vm: Option<(Vm, Proof)>,
    failed: Option<String>,
}

impl<'a> Reference<'a> {
    pub fn new(sc: &'a Scenario, label: &str, module: &'a dyn LoadedModule) -> Reference<'a> {
        Reference {
            sc,
            module,
            label: label.to_string(),
            vm: None,
            failed: None,
        }
    }

    /// The signature of the reference VM's request `i`; `None` if the reference failed.
    fn signature(&mut self, i: usize) -> Option<Signature> {
        if self.vm.is_none() && self.failed.is_none() {
            match self.sc.start_vm(self.module) {
                Ok(mut vm) => {
                    let p = Proof::new(&mut vm, true);
                    self.vm = Some((vm, p));
                }
                Err(e) => self.failed = Some(e),
            }
        }
        let (vm, proof) = self.vm.as_mut()?;
        while proof.requests as usize <= i {
            let step = self
                .sc
                .run_once(vm)
                .unwrap_or_else(|e| Step::Failed(e.to_string()));
            if !proof.check(&step, vm) {
                self.failed = Some(format!("the reference failed: {step:?}"));
                return None;
            }
        }
        match &proof.want {
            Want::Sequence { seen, .. } => seen.get(i).copied(),
            Want::Same(_) => None,
        }
    }

    /// What differs in request `i` between fresh VMs of the timed arm and of the reference
    /// (re-run untimed, on a failure only; too far into the run, not looked for).
    fn explain(&self, i: usize, own: &dyn LoadedModule) -> String {
        if let Some(why) = &self.failed {
            return why.clone();
        }
        let step_at = |module: &dyn LoadedModule| -> Result<Step, String> {
            let mut vm = self.sc.start_vm(module)?;
            let mut last = Step::Failed("no request ran".into());
            for _ in 0..=i {
                last = self
                    .sc
                    .run_once(&mut vm)
                    .unwrap_or_else(|e| Step::Failed(e.to_string()));
            }
            Ok(last)
        };
        if i > EXPLAIN_RERUN_MAX {
            return "not re-run to find the field (too far into the run)".into();
        }
        match (step_at(self.module), step_at(own)) {
            (Ok(want), Ok(got)) => first_difference(&want, &got),
            (Err(e), _) | (_, Err(e)) => format!("cannot re-run it: {e}"),
        }
    }
}

/// The first field in which two outcomes differ, for a failure message.
pub fn first_difference(want: &Step, got: &Step) -> String {
    fn show(b: &[u8]) -> String {
        let s = String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned();
        if b.len() > 80 {
            format!("{s}… ({} bytes)", b.len())
        } else {
            format!("{s:?}")
        }
    }
    fn headers(h: &HeaderMap) -> String {
        let v: Vec<String> = h
            .iter()
            .map(|(k, v)| format!("{}: {}", show(k), show(v)))
            .collect();
        format!("[{}]", v.join(", "))
    }
    match (want, got) {
        (Step::Http(a), Step::Http(b)) => {
            let fields = [
                ("request headers", a.request_headers != b.request_headers),
                ("request body", a.request_body != b.request_body),
                ("response headers", a.response_headers != b.response_headers),
                ("response body", a.response_body != b.response_body),
                ("local reply", a.local_reply != b.local_reply),
                ("HTTP calls out", a.calls != b.calls),
            ];
            match fields.iter().find(|f| f.1).map(|f| f.0) {
                Some("request headers") => format!(
                    "request headers: expected {}, got {}",
                    headers(&a.request_headers),
                    headers(&b.request_headers)
                ),
                Some("response headers") => format!(
                    "response headers: expected {}, got {}",
                    headers(&a.response_headers),
                    headers(&b.response_headers)
                ),
                Some("request body") => format!(
                    "request body: expected {}, got {}",
                    show(&a.request_body),
                    show(&b.request_body)
                ),
                Some("response body") => format!(
                    "response body: expected {}, got {}",
                    show(&a.response_body),
                    show(&b.response_body)
                ),
                Some("HTTP calls out") => {
                    format!("HTTP calls out: expected {:?}, got {:?}", a.calls, b.calls)
                }
                Some(_) => format!(
                    "local reply: expected {:?}, got {:?}",
                    a.local_reply.as_ref().map(|r| r.status),
                    b.local_reply.as_ref().map(|r| r.status)
                ),
                None => "metric deltas or properties set by the request".into(),
            }
        }
        (Step::Tcp(a), Step::Tcp(b)) if a != b => format!("connection: expected {a:?}, got {b:?}"),
        (Step::Tcp(_), Step::Tcp(_)) => "metric deltas or properties set by the connection".into(),
        (Step::Tick(a), Step::Tick(b)) if a != b => format!("tick: expected {a:?}, got {b:?}"),
        (Step::Tick(_), Step::Tick(_)) => "metric deltas or properties set by the tick".into(),
        (_, Step::Failed(e)) => format!("the request failed: {e}"),
        _ => "the kind of outcome".into(),
    }
}
