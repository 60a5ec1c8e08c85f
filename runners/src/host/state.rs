//! Per-VM host state: everything a proxy-wasm host function reads or changes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::bounds::{ENTRY_OVERHEAD, HostBounds};
use super::http_call::{HttpCalls, Upstream};

/// An ordered header map, as Envoy keeps it (names lowercased by the host).
pub type HeaderMap = Vec<(Vec<u8>, Vec<u8>)>;

/// What the host clock returns to the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// A fixed instant (ns since the epoch): fixtures need identical answers on every arm.
    Fixed(u64),
    /// The real wall clock, as a proxy has it.
    System,
}

impl Clock {
    pub fn now_ns(self) -> u64 {
        match self {
            Clock::Fixed(ns) => ns,
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
        }
    }
}

/// A reply the filter sent instead of forwarding the request (`proxy_send_local_response`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalReply {
    pub status: u32,
    pub details: Vec<u8>,
    pub body: Vec<u8>,
    pub headers: HeaderMap,
    pub grpc_status: i32,
}

/// The stream (HTTP request/response or TCP connection) the current callback belongs to.
/// Maps and buffers are indexed by the ABI's MapType / BufferType numbers.
#[derive(Debug, Default)]
pub struct StreamState {
    /// request headers, request trailers, response headers, response trailers
    pub maps: [HeaderMap; 4],
    /// request body, response body, downstream data, upstream data (what the filter sees now)
    pub buffers: [Vec<u8>; 4],
    pub local_reply: Option<LocalReply>,
    /// `proxy_close_stream` per StreamType (request, response, downstream, upstream).
    pub closed: [bool; 4],
    /// `proxy_continue_stream` per StreamType: the filter resumed a stream it paused.
    pub continued: [bool; 4],
    /// Bytes the guest stored in this stream so far (`max_host_state_bytes`).
    pub guest_bytes: u64,
}

impl StreamState {
    /// Empties the stream for the next one in place: a fresh stream's contents, but the
    /// buffers keep their capacity, so a warm VM's requests copy bodies without allocating.
    pub fn reset(&mut self) {
        // Destructured so that a new field cannot be forgotten here.
        let StreamState {
            maps,
            buffers,
            local_reply,
            closed,
            continued,
            guest_bytes,
        } = self;
        maps.iter_mut().for_each(Vec::clear);
        buffers.iter_mut().for_each(Vec::clear);
        // (Guarded: dropping even a `None` in place is an out-of-line call.)
        if local_reply.is_some() {
            *local_reply = None;
        }
        *closed = [false; 4];
        *continued = [false; 4];
        *guest_bytes = 0;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn from_abi(v: u32) -> Option<MetricKind> {
        match v {
            0 => Some(MetricKind::Counter),
            1 => Some(MetricKind::Gauge),
            2 => Some(MetricKind::Histogram),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    /// Counter / gauge value.
    pub value: i64,
    /// Histogram: number of recorded values and their sum.
    pub count: u64,
    pub sum: u64,
}

/// Metrics the filter defined, in definition order; the id is the index plus [`Metrics::ID_BASE`].
#[derive(Debug, Default)]
pub struct Metrics {
    pub list: Vec<Metric>,
    by_name: HashMap<(String, MetricKind), u32>,
}

impl Metrics {
    /// Ids start above zero so a zero id from a guest is never valid.
    pub const ID_BASE: u32 = 1;

    pub fn define(&mut self, kind: MetricKind, name: &str) -> u32 {
        if let Some(id) = self.by_name.get(&(name.to_string(), kind)) {
            return *id;
        }
        let id = self.list.len() as u32 + Self::ID_BASE;
        self.list.push(Metric {
            name: name.to_string(),
            kind,
            value: 0,
            count: 0,
            sum: 0,
        });
        self.by_name.insert((name.to_string(), kind), id);
        id
    }

    /// Removes the newest definition (one the host refused after making it).
    pub(crate) fn undefine_last(&mut self) {
        if let Some(m) = self.list.pop() {
            self.by_name.remove(&(m.name, m.kind));
        }
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Metric> {
        let i = id.checked_sub(Self::ID_BASE)? as usize;
        self.list.get_mut(i)
    }

    /// The value a fixture compares: counters and gauges their value, histograms their count.
    pub fn snapshot(&self) -> BTreeMap<String, i64> {
        self.list
            .iter()
            .map(|m| {
                let v = match m.kind {
                    MetricKind::Histogram => m.count as i64,
                    _ => m.value,
                };
                (m.name.clone(), v)
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub level: u32,
    pub message: String,
}

/// Shared data and queues: shared by every VM of one plugin, as in Envoy (per VM id, process-wide).
#[derive(Debug, Default)]
pub struct SharedData {
    inner: Mutex<SharedInner>,
}

#[derive(Debug, Default)]
struct SharedInner {
    kv: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    queues: Vec<(Vec<u8>, VecDeque<Vec<u8>>)>,
    /// Keys, values, queue names and queued messages held, each entry with its overhead.
    bytes: u64,
}

/// Result of a compare-and-swap write.
#[derive(Debug, PartialEq, Eq)]
pub enum CasResult {
    Ok,
    Mismatch,
    /// Storing it would hold `needed` bytes, past the bound the caller passed.
    OverBound {
        needed: u64,
    },
}

/// Bytes an entry of `key` and `value` holds, for the shared-data bound.
fn entry_bytes(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64 + ENTRY_OVERHEAD
}

impl SharedData {
    pub fn new() -> Arc<SharedData> {
        Arc::new(SharedData::default())
    }

    pub fn get(&self, key: &[u8]) -> Option<(Vec<u8>, u32)> {
        self.inner.lock().unwrap().kv.get(key).cloned()
    }

    /// Bytes held now (keys, values, queues), as counted against the caller's bound.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().unwrap().bytes
    }

    /// `cas == 0` writes unconditionally; otherwise it must match the stored cas. Refused if
    /// the plugin's shared data would then hold more than `max_bytes`.
    pub fn set(&self, key: &[u8], value: &[u8], cas: u32, max_bytes: u64) -> CasResult {
        let mut inner = self.inner.lock().unwrap();
        let held = inner.bytes;
        let new = entry_bytes(key, value);
        match inner.kv.get_mut(key) {
            Some((v, c)) => {
                if cas != 0 && cas != *c {
                    return CasResult::Mismatch;
                }
                let needed = held - entry_bytes(key, v) + new;
                if needed > max_bytes {
                    return CasResult::OverBound { needed };
                }
                inner.bytes = needed;
                let (v, c) = inner.kv.get_mut(key).expect("found above");
                v.clear();
                v.extend_from_slice(value);
                // Never hand out cas 0: the SDK reads 0 as "no cas".
                *c = c.wrapping_add(1).max(1);
            }
            None => {
                if cas != 0 {
                    return CasResult::Mismatch;
                }
                let needed = held + new;
                if needed > max_bytes {
                    return CasResult::OverBound { needed };
                }
                inner.bytes = needed;
                inner.kv.insert(key.to_vec(), (value.to_vec(), 1));
            }
        }
        CasResult::Ok
    }

    /// The queue's id, registering it first if new; `Err(needed)` if registering would hold
    /// more than `max_bytes`.
    pub fn register_queue(&self, name: &[u8], max_bytes: u64) -> Result<u32, u64> {
        let mut inner = self.inner.lock().unwrap();
        if let Some(i) = inner.queues.iter().position(|(n, _)| n == name) {
            return Ok(i as u32 + 1);
        }
        let needed = inner.bytes + entry_bytes(name, &[]);
        if needed > max_bytes {
            return Err(needed);
        }
        inner.bytes = needed;
        inner.queues.push((name.to_vec(), VecDeque::new()));
        Ok(inner.queues.len() as u32)
    }

    pub fn resolve_queue(&self, name: &[u8]) -> Option<u32> {
        let inner = self.inner.lock().unwrap();
        inner
            .queues
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| i as u32 + 1)
    }

    /// `None` when the queue does not exist, `Some(None)` when it is empty.
    pub fn dequeue(&self, id: u32) -> Option<Option<Vec<u8>>> {
        let mut inner = self.inner.lock().unwrap();
        let q = inner.queues.get_mut(id.checked_sub(1)? as usize)?;
        let v = q.1.pop_front();
        if let Some(v) = &v {
            inner.bytes -= entry_bytes(&[], v);
        }
        Some(v)
    }

    /// `Ok(false)` when the queue does not exist; `Err(needed)` if the message would make the
    /// plugin's shared data hold more than `max_bytes`.
    pub fn enqueue(&self, id: u32, value: &[u8], max_bytes: u64) -> Result<bool, u64> {
        let mut inner = self.inner.lock().unwrap();
        let needed = inner.bytes + entry_bytes(&[], value);
        let Some(i) = id.checked_sub(1).map(|i| i as usize) else {
            return Ok(false);
        };
        if i >= inner.queues.len() {
            return Ok(false);
        }
        if needed > max_bytes {
            return Err(needed);
        }
        inner.bytes = needed;
        inner.queues[i].1.push_back(value.to_vec());
        Ok(true)
    }
}

/// Static facts about the plugin, readable as properties.
#[derive(Clone, Debug, Default)]
pub struct PluginInfo {
    pub name: String,
    pub root_id: String,
    pub vm_id: String,
}

/// Everything the host keeps for one VM.
#[derive(Debug)]
pub struct HostState {
    pub plugin: PluginInfo,
    /// `None` = no plugin configuration at all (distinct from an empty one).
    pub plugin_config: Option<Vec<u8>>,
    pub vm_config: Option<Vec<u8>>,
    pub clock: Clock,
    pub log_level: u32,
    /// Keep log records (fixtures); benchmarks turn it off so logging costs only the call.
    pub capture_logs: bool,
    pub logs: Vec<LogRecord>,
    pub metrics: Metrics,
    pub shared: Arc<SharedData>,
    pub stream: StreamState,
    pub properties: HashMap<Vec<u8>, Vec<u8>>,
    pub tick_period_ms: u32,
    pub effective_context: u32,
    /// Host functions the guest called that this host does not implement, by name.
    pub unimplemented: BTreeMap<&'static str, u64>,
    /// State of the seeded generator behind WASI `random_get`.
    pub rng: u64,
    /// Instrumentation for `filterbench profile`; `None` (the default, and always while timing)
    /// costs one predictable branch per host call and callback.
    pub profile: Option<Box<Profile>>,
    /// What the guest may make the host spend; the engine sets them from its `Limits`.
    pub bounds: HostBounds,
    /// Bytes the current host call has read or produced (`max_host_call_bytes`).
    pub call_bytes: u64,
    /// Bytes of log records kept (`max_log_bytes`).
    pub log_bytes: u64,
    /// Bytes of properties and metric definitions the guest stored (`max_host_state_bytes`).
    pub vm_state_bytes: u64,
    /// Guest allocations in progress (`max_alloc_depth`).
    pub alloc_depth: u32,
    /// Outbound HTTP calls in flight and the answer being delivered.
    pub http_calls: HttpCalls,
    /// What answers them.
    pub upstream: Upstream,
    /// The start of the last critical log of the current callback (SDKs log a panic there),
    /// shown with the trap that follows it.
    pub guest_message: Option<String>,
}

/// Where a VM's time and bytes went, accumulated while profiling is on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Host calls per ABI function: (count, ns spent in the host, guest allocator excluded).
    pub calls: BTreeMap<String, (u64, u64)>,
    /// Callbacks into the guest and the wall time they took (host calls included).
    pub callbacks: u64,
    pub callback_ns: u64,
    /// Bytes the host copied out of guest memory (reads) and into it (writes).
    pub bytes_from_guest: u64,
    pub bytes_to_guest: u64,
    /// Calls to the guest allocator made by the host, their bytes and time.
    pub guest_allocs: u64,
    pub guest_alloc_bytes: u64,
    pub guest_alloc_ns: u64,
}

impl Profile {
    pub fn host_calls(&self) -> u64 {
        self.calls.values().map(|c| c.0).sum()
    }
    pub fn host_ns(&self) -> u64 {
        self.calls.values().map(|c| c.1).sum()
    }
}

/// Log records kept at most per VM, so a chatty filter cannot exhaust the harness.
pub const MAX_LOG_RECORDS: usize = 10_000;

impl HostState {
    pub fn new(plugin_config: Option<Vec<u8>>, clock: Clock, shared: Arc<SharedData>) -> Self {
        HostState {
            plugin: PluginInfo::default(),
            plugin_config,
            vm_config: None,
            clock,
            log_level: 3, // warn
            capture_logs: true,
            logs: Vec::new(),
            metrics: Metrics::default(),
            shared,
            stream: StreamState::default(),
            properties: HashMap::new(),
            tick_period_ms: 0,
            effective_context: 0,
            unimplemented: BTreeMap::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
            profile: None,
            bounds: HostBounds::default(),
            call_bytes: 0,
            log_bytes: 0,
            vm_state_bytes: 0,
            alloc_depth: 0,
            http_calls: HttpCalls::default(),
            upstream: Upstream::default(),
            guest_message: None,
        }
    }

    /// xorshift64*: reproducible "randomness" for WASI, the same on every arm.
    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_semantics() {
        let s = SharedData::default();
        let max = u64::MAX;
        assert_eq!(s.set(b"k", b"v1", 5, max), CasResult::Mismatch);
        assert_eq!(s.set(b"k", b"v1", 0, max), CasResult::Ok);
        let (v, cas) = s.get(b"k").unwrap();
        assert_eq!(v, b"v1");
        assert_eq!(s.set(b"k", b"v2", cas + 1, max), CasResult::Mismatch);
        assert_eq!(s.set(b"k", b"v2", cas, max), CasResult::Ok);
        assert_eq!(s.get(b"k").unwrap().0, b"v2");
    }

    #[test]
    fn shared_data_is_bounded_and_freed() {
        let s = SharedData::default();
        let one = entry_bytes(b"k", b"v1");
        assert_eq!(s.set(b"k", b"v1", 0, one), CasResult::Ok);
        // Replacing counts the new value in place of the old one, not on top of it.
        assert_eq!(s.set(b"k", b"v2", 0, one), CasResult::Ok);
        assert_eq!(
            s.set(b"k2", b"v", 0, one),
            CasResult::OverBound {
                needed: one + entry_bytes(b"k2", b"v")
            }
        );
        let q = s.register_queue(b"q", u64::MAX).unwrap();
        let before = s.bytes();
        assert_eq!(
            s.enqueue(q, b"msg", before),
            Err(before + entry_bytes(b"", b"msg"))
        );
        assert_eq!(s.enqueue(q, b"msg", u64::MAX), Ok(true));
        assert_eq!(s.dequeue(q), Some(Some(b"msg".to_vec())));
        assert_eq!(s.bytes(), before);
    }

    #[test]
    fn metrics_define_is_idempotent() {
        let mut m = Metrics::default();
        let a = m.define(MetricKind::Counter, "a");
        assert_eq!(m.define(MetricKind::Counter, "a"), a);
        assert_ne!(m.define(MetricKind::Histogram, "a"), a);
        assert!(m.get_mut(0).is_none());
    }
}
