//! The proxy-wasm ABI 0.2.1 host functions, written once against [`GuestMemory`].
//!
//! Every engine adapter (and the native arm) turns a guest's import call into
//! `dispatch(id, memory, args)`: arguments arrive as `u64` in import-parameter order and
//! are read back per their `Kind`. Bad guest pointers answer `INVALID_MEMORY_ACCESS`
//! (as Envoy does); only a failing guest allocator is a trap.

use filterbench_abi::ImportId;

use super::bounds::{ENTRY_OVERHEAD, Exceeded};
use super::state::{CasResult, HeaderMap, HostState, LocalReply, MetricKind};

/// `proxy_status_t` values of ABI 0.2.1.
pub mod status {
    pub const OK: u32 = 0;
    pub const NOT_FOUND: u32 = 1;
    pub const BAD_ARGUMENT: u32 = 2;
    pub const SERIALIZATION_FAILURE: u32 = 3;
    pub const INVALID_MEMORY_ACCESS: u32 = 6;
    pub const EMPTY: u32 = 7;
    pub const CAS_MISMATCH: u32 = 8;
    pub const UNIMPLEMENTED: u32 = 12;
}
use status::*;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("guest memory access out of bounds: {len} bytes at {ptr:#x}")]
    OutOfBounds { ptr: u64, len: u64 },
    #[error("guest allocator failed: {0}")]
    Alloc(String),
    #[error("module called proc_exit({0})")]
    Exit(i32),
    #[error(transparent)]
    Bound(#[from] super::bounds::Exceeded),
    #[error(
        "guest allocator re-entered: a host call made while it ran needed another allocation, \
         past `max_alloc_depth` ({0})"
    )]
    AllocDepth(u32),
}

/// What the ABI needs from an engine: the guest's memory, its allocator and the host state.
pub trait GuestMemory {
    /// Width of a guest pointer / `size_t`: 4 for wasm32, 8 for the native arm.
    fn ptr_size(&self) -> usize;
    fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError>;
    fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), HostError>;
    /// Calls the guest's `proxy_on_memory_allocate` (or `malloc`).
    fn alloc(&mut self, size: u64) -> Result<u64, HostError>;
    fn host(&mut self) -> &mut HostState;
}

impl dyn GuestMemory + '_ {
    pub(crate) fn write_u32(&mut self, ptr: u64, v: u32) -> Result<(), HostError> {
        self.write(ptr, &v.to_le_bytes())
    }
    fn write_u64(&mut self, ptr: u64, v: u64) -> Result<(), HostError> {
        self.write(ptr, &v.to_le_bytes())
    }
    fn write_ptr(&mut self, ptr: u64, v: u64) -> Result<(), HostError> {
        let bytes = v.to_le_bytes();
        let n = self.ptr_size();
        self.write(ptr, &bytes[..n])
    }
    /// Copies `data` into a fresh guest allocation and stores its address and size.
    fn return_bytes(&mut self, data: &[u8], ret_ptr: u64, ret_size: u64) -> Result<(), HostError> {
        let p = self.guest_alloc(data.len() as u64)?;
        self.write(p, data)?;
        self.write_ptr(ret_ptr, p)?;
        self.write_ptr(ret_size, data.len() as u64)
    }
    fn read_key(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        let mut k = self.take(ptr, len)?;
        k.make_ascii_lowercase();
        Ok(k)
    }
}

pub use filterbench_abi::pairs::{deserialize as deserialize_map, serialize as serialize_map};

/// MapType 0–3 are the stream's; 6 and 7 the HTTP call response being delivered.
fn map_mut(h: &mut HostState, t: u64) -> Option<&mut HeaderMap> {
    match t {
        0..=3 => h.stream.maps.get_mut(t as usize),
        6 => h.http_calls.response.as_mut().map(|r| &mut r.headers),
        7 => h.http_calls.response.as_mut().map(|r| &mut r.trailers),
        _ => None,
    }
}

fn buffer(h: &HostState, t: u64) -> Option<&[u8]> {
    match t {
        0..=3 => Some(&h.stream.buffers[t as usize]),
        4 => h.http_calls.response.as_ref().map(|r| r.body.as_slice()),
        6 => h.vm_config.as_deref(),
        7 => h.plugin_config.as_deref(),
        _ => None,
    }
}

fn find<'a>(map: &'a HeaderMap, key: &[u8]) -> Option<&'a [u8]> {
    map.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

/// Values of properties a filter may ask for; paths arrive NUL-separated.
fn property(h: &HostState, path: &[u8]) -> Option<Vec<u8>> {
    if let Some(v) = h.properties.get(path) {
        return Some(v.clone());
    }
    let header = |name: &[u8]| find(&h.stream.maps[0], name).map(<[u8]>::to_vec);
    let parts: Vec<&[u8]> = path.split(|b| *b == 0).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [b"plugin_name"] => Some(h.plugin.name.clone().into_bytes()),
        [b"plugin_root_id"] => Some(h.plugin.root_id.clone().into_bytes()),
        [b"plugin_vm_id"] => Some(h.plugin.vm_id.clone().into_bytes()),
        [b"request", b"path"] => header(b":path"),
        [b"request", b"url_path"] => {
            header(b":path").map(|p| p.split(|b| *b == b'?').next().unwrap_or(&[]).to_vec())
        }
        [b"request", b"method"] => header(b":method"),
        [b"request", b"host"] => header(b":authority"),
        [b"request", b"scheme"] => header(b":scheme"),
        [b"request", b"protocol"] => Some(b"HTTP/1.1".to_vec()),
        // Envoy returns integers as 8 little-endian bytes.
        [b"response", b"code"] => find(&h.stream.maps[2], b":status")
            .and_then(|s| std::str::from_utf8(s).ok()?.parse::<i64>().ok())
            .map(|c| c.to_le_bytes().to_vec()),
        [b"source", b"address"] => Some(b"127.0.0.1:40000".to_vec()),
        [b"destination", b"address"] => Some(b"127.0.0.1:10000".to_vec()),
        _ => None,
    }
}

/// Runs host function `id` with the guest's arguments; returns its `proxy_status_t`.
pub fn dispatch(id: ImportId, m: &mut dyn GuestMemory, a: &[u64]) -> Result<u32, HostError> {
    match call(id, m, a) {
        Err(HostError::OutOfBounds { .. }) => Ok(INVALID_MEMORY_ACCESS),
        other => other,
    }
}

/// LogLevel::Critical.
const CRITICAL: u64 = 5;
/// Bytes of a critical log kept to explain a trap.
const GUEST_MESSAGE_MAX: usize = 1024;

fn shared_full(needed: u64, limit: u64) -> HostError {
    HostError::Bound(Exceeded {
        what: "shared data",
        bound: "max_shared_data_bytes",
        needed,
        limit,
    })
}

fn unimplemented(m: &mut dyn GuestMemory, id: ImportId) -> Result<u32, HostError> {
    *m.host().unimplemented.entry(id.spec().name).or_default() += 1;
    Ok(UNIMPLEMENTED)
}

fn call(id: ImportId, m: &mut dyn GuestMemory, a: &[u64]) -> Result<u32, HostError> {
    use ImportId::*;
    // A short argument list would be an adapter bug, never guest input: engines check
    // the import signature at link time.
    debug_assert_eq!(a.len(), id.spec().params.len());
    match id {
        proxy_log => {
            let msg = m.take(a[1], a[2])?;
            let h = m.host();
            // Critical is where SDKs report a panic: kept (its start) to show with the trap.
            if a[0] >= CRITICAL {
                let end = msg.len().min(GUEST_MESSAGE_MAX);
                h.guest_message = Some(String::from_utf8_lossy(&msg[..end]).into_owned());
            }
            if h.capture_logs && h.logs.len() < super::state::MAX_LOG_RECORDS {
                let message = String::from_utf8_lossy(&msg).into_owned();
                h.charge_log(message.len() as u64)?;
                h.logs.push(super::state::LogRecord {
                    level: a[0] as u32,
                    message,
                });
            }
            Ok(OK)
        }
        proxy_get_log_level => {
            let level = m.host().log_level;
            m.write_u32(a[0], level)?;
            Ok(OK)
        }
        proxy_get_current_time_nanoseconds => {
            let now = m.host().clock.now_ns();
            m.write_u64(a[0], now)?;
            Ok(OK)
        }
        proxy_set_tick_period_milliseconds => {
            m.host().tick_period_ms = a[0] as u32;
            Ok(OK)
        }
        proxy_get_buffer_bytes => {
            let (start, max) = (a[1] as usize, a[2] as usize);
            let data = match buffer(m.host(), a[0]) {
                None => return Ok(NOT_FOUND),
                Some(b) if start > b.len() => return Ok(BAD_ARGUMENT),
                Some(b) => b[start..start.saturating_add(max).min(b.len())].to_vec(),
            };
            if data.is_empty() {
                m.write_ptr(a[3], 0)?;
                m.write_ptr(a[4], 0)?;
            } else {
                m.return_bytes(&data, a[3], a[4])?;
            }
            Ok(OK)
        }
        proxy_set_buffer_bytes => {
            let data = m.take(a[3], a[4])?;
            let (start, size) = (a[1] as usize, a[2] as usize);
            let h = m.host();
            if a[0] >= h.stream.buffers.len() as u64 {
                return Ok(NOT_FOUND);
            }
            let len = h.stream.buffers[a[0] as usize].len();
            if start > len {
                return Ok(BAD_ARGUMENT);
            }
            let end = start.saturating_add(size).min(len);
            h.charge_stream(data.len() as u64, (end - start) as u64)?;
            h.stream.buffers[a[0] as usize].splice(start..end, data);
            Ok(OK)
        }
        proxy_get_header_map_pairs => {
            let bytes = match map_mut(m.host(), a[0]) {
                Some(map) => serialize_map(map),
                None => return Ok(NOT_FOUND),
            };
            m.return_bytes(&bytes, a[1], a[2])?;
            Ok(OK)
        }
        proxy_set_header_map_pairs => {
            let bytes = m.take(a[1], a[2])?;
            let Some(mut new) = deserialize_map(&bytes) else {
                return Ok(BAD_ARGUMENT);
            };
            let entries = new.len() as u64 * ENTRY_OVERHEAD;
            let held = |map: &HeaderMap| -> u64 {
                map.iter()
                    .map(|(k, v)| (k.len() + v.len()) as u64 + ENTRY_OVERHEAD)
                    .sum()
            };
            let Some(old) = map_mut(m.host(), a[0]).map(|map| held(map)) else {
                return Ok(NOT_FOUND);
            };
            m.host().charge_stream(bytes.len() as u64 + entries, old)?;
            for (k, _) in &mut new {
                k.make_ascii_lowercase();
            }
            match map_mut(m.host(), a[0]) {
                Some(map) => *map = new,
                None => return Ok(NOT_FOUND),
            }
            Ok(OK)
        }
        proxy_get_header_map_value => {
            let key = m.read_key(a[1], a[2])?;
            let value = match map_mut(m.host(), a[0]) {
                Some(map) => find(map, &key).map(<[u8]>::to_vec),
                None => return Ok(NOT_FOUND),
            };
            match value {
                Some(v) => {
                    m.return_bytes(&v, a[3], a[4])?;
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        }
        proxy_remove_header_map_value => {
            let key = m.read_key(a[1], a[2])?;
            match map_mut(m.host(), a[0]) {
                Some(map) => map.retain(|(k, _)| *k != key),
                None => return Ok(NOT_FOUND),
            }
            Ok(OK)
        }
        proxy_replace_header_map_value | proxy_add_header_map_value => {
            let key = m.read_key(a[1], a[2])?;
            let value = m.take(a[3], a[4])?;
            let stored = (key.len() + value.len()) as u64 + ENTRY_OVERHEAD;
            let h = m.host();
            if map_mut(h, a[0]).is_none() {
                return Ok(NOT_FOUND);
            }
            h.charge_stream(stored, 0)?;
            let map = map_mut(h, a[0]).expect("checked above");
            // Replace keeps the first occurrence's position and drops the others, like
            // Envoy's setCopy; add always appends.
            if id == proxy_replace_header_map_value
                && let Some(i) = map.iter().position(|(k, _)| *k == key)
            {
                map[i].1 = value;
                let mut seen = 0;
                map.retain(|(k, _)| {
                    seen += usize::from(*k == key);
                    *k != key || seen == 1
                });
                return Ok(OK);
            }
            map.push((key, value));
            Ok(OK)
        }
        proxy_get_property => {
            let path = m.take(a[0], a[1])?;
            match property(m.host(), &path) {
                Some(v) => {
                    m.return_bytes(&v, a[2], a[3])?;
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        }
        proxy_set_property => {
            let path = m.take(a[0], a[1])?;
            let value = m.take(a[2], a[3])?;
            let h = m.host();
            let entry = |v: &[u8]| (path.len() + v.len()) as u64 + ENTRY_OVERHEAD;
            let freed = h.properties.get(&path).map_or(0, |old| entry(old));
            h.charge_vm_state(entry(&value), freed)?;
            h.properties.insert(path, value);
            Ok(OK)
        }
        proxy_get_shared_data => {
            let key = m.take(a[0], a[1])?;
            match m.host().shared.get(&key) {
                Some((v, cas)) => {
                    m.return_bytes(&v, a[2], a[3])?;
                    m.write_u32(a[4], cas)?;
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        }
        proxy_set_shared_data => {
            let key = m.take(a[0], a[1])?;
            let value = m.take(a[2], a[3])?;
            let h = m.host();
            let max = h.bounds.max_shared_data_bytes;
            match h.shared.set(&key, &value, a[4] as u32, max) {
                CasResult::Ok => Ok(OK),
                CasResult::Mismatch => Ok(CAS_MISMATCH),
                CasResult::OverBound { needed } => Err(shared_full(needed, max)),
            }
        }
        proxy_register_shared_queue => {
            let name = m.take(a[0], a[1])?;
            let h = m.host();
            let max = h.bounds.max_shared_data_bytes;
            let qid = h
                .shared
                .register_queue(&name, max)
                .map_err(|needed| shared_full(needed, max))?;
            m.write_u32(a[2], qid)?;
            Ok(OK)
        }
        proxy_resolve_shared_queue => {
            // One VM id per plugin here, so the vm_id argument only has to be readable.
            m.take(a[0], a[1])?;
            let name = m.take(a[2], a[3])?;
            match m.host().shared.resolve_queue(&name) {
                Some(qid) => {
                    m.write_u32(a[4], qid)?;
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        }
        proxy_dequeue_shared_queue => match m.host().shared.dequeue(a[0] as u32) {
            None => Ok(NOT_FOUND),
            Some(None) => Ok(EMPTY),
            Some(Some(v)) => {
                m.return_bytes(&v, a[1], a[2])?;
                Ok(OK)
            }
        },
        proxy_enqueue_shared_queue => {
            let v = m.take(a[1], a[2])?;
            let h = m.host();
            let max = h.bounds.max_shared_data_bytes;
            match h.shared.enqueue(a[0] as u32, &v, max) {
                Ok(true) => Ok(OK),
                Ok(false) => Ok(NOT_FOUND),
                Err(needed) => Err(shared_full(needed, max)),
            }
        }
        proxy_continue_stream => match m.host().stream.continued.get_mut(a[0] as usize) {
            Some(c) => {
                *c = true;
                Ok(OK)
            }
            None => Ok(BAD_ARGUMENT),
        },
        proxy_close_stream => match m.host().stream.closed.get_mut(a[0] as usize) {
            Some(c) => {
                *c = true;
                Ok(OK)
            }
            None => Ok(BAD_ARGUMENT),
        },
        proxy_send_local_response => {
            let details = m.take(a[1], a[2])?;
            let body = m.take(a[3], a[4])?;
            let serialized = m.take(a[5], a[6])?;
            let Some(mut headers) = deserialize_map(&serialized) else {
                return Ok(SERIALIZATION_FAILURE);
            };
            for (k, _) in &mut headers {
                k.make_ascii_lowercase();
            }
            let stored = (details.len() + body.len()) as u64
                + serialized.len() as u64
                + headers.len() as u64 * ENTRY_OVERHEAD;
            m.host().charge_stream(stored, 0)?;
            m.host().stream.local_reply = Some(LocalReply {
                status: a[0] as u32,
                details,
                body,
                headers,
                grpc_status: a[7] as i32,
            });
            Ok(OK)
        }
        proxy_http_call => super::http_call::http_call(m, a),
        // gRPC calls need a gRPC upstream, which the suite does not model.
        proxy_grpc_call | proxy_grpc_stream | proxy_grpc_send | proxy_grpc_cancel
        | proxy_grpc_close | proxy_get_status => unimplemented(m, id),
        proxy_set_effective_context => {
            m.host().effective_context = a[0] as u32;
            Ok(OK)
        }
        // No foreign functions are registered, as in a stock Envoy for unknown names.
        proxy_call_foreign_function => {
            m.take(a[0], a[1])?;
            Ok(NOT_FOUND)
        }
        proxy_done => Ok(OK),
        proxy_define_metric => {
            let Some(kind) = MetricKind::from_abi(a[0] as u32) else {
                return Ok(BAD_ARGUMENT);
            };
            let name = m.take(a[1], a[2])?;
            let name = String::from_utf8_lossy(&name).into_owned();
            let h = m.host();
            let defined = h.metrics.list.len();
            let mid = h.metrics.define(kind, &name);
            if h.metrics.list.len() > defined {
                // Checked after defining so a repeated definition stays free; undone if over.
                if let Err(e) = h.charge_vm_state(name.len() as u64 + ENTRY_OVERHEAD, 0) {
                    h.metrics.undefine_last();
                    return Err(e);
                }
            }
            m.write_u32(a[3], mid)?;
            Ok(OK)
        }
        proxy_get_metric => {
            let value = match m.host().metrics.get_mut(a[0] as u32) {
                None => return Ok(NOT_FOUND),
                Some(x) if x.kind == MetricKind::Histogram => return Ok(BAD_ARGUMENT),
                Some(x) => x.value as u64,
            };
            m.write_u64(a[1], value)?;
            Ok(OK)
        }
        proxy_record_metric => match m.host().metrics.get_mut(a[0] as u32) {
            None => Ok(NOT_FOUND),
            Some(x) => {
                match x.kind {
                    MetricKind::Counter => x.value = x.value.wrapping_add(a[1] as i64),
                    MetricKind::Gauge => x.value = a[1] as i64,
                    MetricKind::Histogram => {
                        x.count += 1;
                        x.sum = x.sum.wrapping_add(a[1]);
                    }
                }
                Ok(OK)
            }
        },
        proxy_increment_metric => {
            let offset = a[1] as i64;
            match m.host().metrics.get_mut(a[0] as u32) {
                None => Ok(NOT_FOUND),
                Some(x) => match x.kind {
                    MetricKind::Counter if offset >= 0 => {
                        x.value = x.value.wrapping_add(offset);
                        Ok(OK)
                    }
                    MetricKind::Gauge => {
                        x.value = x.value.wrapping_add(offset);
                        Ok(OK)
                    }
                    _ => Ok(BAD_ARGUMENT),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_roundtrip_and_malformed() {
        let map: HeaderMap = vec![
            (b":path".to_vec(), b"/".to_vec()),
            (b"x".to_vec(), vec![]),
            (b"bin".to_vec(), vec![0xff, 0]),
        ];
        let bytes = serialize_map(&map);
        assert_eq!(deserialize_map(&bytes), Some(map));
        assert_eq!(deserialize_map(&bytes[..bytes.len() - 3]), None);
        assert_eq!(deserialize_map(&[0xff, 0xff, 0xff, 0x7f]), None);
        assert_eq!(deserialize_map(&[]), Some(vec![]));
    }
}
