//! Bounds on the work and memory a guest can make the host spend: per host call, per VM and
//! per plugin. A host call past one traps with a message naming the bound, so the request
//! fails visibly instead of the worker running out of memory or time.

use super::abi::{GuestMemory, HostError};
use super::state::HostState;

/// The host-side bounds of one VM; `engines::Limits` documents each and sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBounds {
    pub max_host_call_bytes: u64,
    pub max_log_bytes: u64,
    pub max_shared_data_bytes: u64,
    pub max_host_state_bytes: u64,
    pub max_alloc_depth: u32,
}

impl Default for HostBounds {
    fn default() -> Self {
        crate::engines::Limits::default().host_bounds()
    }
}

/// Bytes charged per stored entry (header, property, metric, shared key) besides its
/// contents, so many empty entries cannot grow host memory for free.
pub const ENTRY_OVERHEAD: u64 = 64;

/// A host call that would pass a bound.
#[derive(Debug, thiserror::Error)]
#[error("{what} needs {needed} bytes, past `{bound}` ({limit} bytes)")]
pub struct Exceeded {
    pub what: &'static str,
    pub bound: &'static str,
    pub needed: u64,
    pub limit: u64,
}

/// `Ok` if `needed` is within `limit`, else the error naming `bound`.
pub fn check(
    what: &'static str,
    bound: &'static str,
    needed: u64,
    limit: u64,
) -> Result<(), HostError> {
    if needed > limit {
        return Err(HostError::Bound(Exceeded {
            what,
            bound,
            needed,
            limit,
        }));
    }
    Ok(())
}

impl HostState {
    /// Charges `n` bytes of work to the current host call (reset as each call starts).
    pub(crate) fn charge_call(&mut self, what: &'static str, n: u64) -> Result<(), HostError> {
        let needed = self.call_bytes.saturating_add(n);
        check(
            what,
            "max_host_call_bytes",
            needed,
            self.bounds.max_host_call_bytes,
        )?;
        self.call_bytes = needed;
        Ok(())
    }

    /// Charges `add` bytes of request state set by the guest, `freed` of them released by the
    /// same change (bytes a set replaces): what is held counts, not what was ever written, so
    /// a filter that re-sets its body on every chunk does not pay quadratically.
    pub(crate) fn charge_stream(&mut self, add: u64, freed: u64) -> Result<(), HostError> {
        // Saturating: bytes the harness stored itself (the request) were never charged.
        let needed = self
            .stream
            .guest_bytes
            .saturating_sub(freed)
            .saturating_add(add);
        check(
            "request state set by the guest",
            "max_host_state_bytes",
            needed,
            self.bounds.max_host_state_bytes,
        )?;
        self.stream.guest_bytes = needed;
        Ok(())
    }

    /// Charges `add` bytes of VM-lifetime state (properties, metrics), `freed` of them
    /// released by the same change.
    pub(crate) fn charge_vm_state(&mut self, add: u64, freed: u64) -> Result<(), HostError> {
        // Saturating: an entry the harness stored itself was never charged.
        let needed = self
            .vm_state_bytes
            .saturating_sub(freed)
            .saturating_add(add);
        check(
            "VM state set by the guest",
            "max_host_state_bytes",
            needed,
            self.bounds.max_host_state_bytes,
        )?;
        self.vm_state_bytes = needed;
        Ok(())
    }

    /// Charges `n` bytes of kept log records.
    pub(crate) fn charge_log(&mut self, n: u64) -> Result<(), HostError> {
        let needed = self.log_bytes.saturating_add(n);
        check(
            "log records",
            "max_log_bytes",
            needed,
            self.bounds.max_log_bytes,
        )?;
        self.log_bytes = needed;
        Ok(())
    }
}

impl dyn GuestMemory + '_ {
    /// Reads guest memory after charging the length to the call, so a huge length from the
    /// guest is refused before anything is allocated (the engine's read then checks it
    /// against the memory's size, also before allocating).
    pub(crate) fn take(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        self.host()
            .charge_call("guest memory read by a host call", len)?;
        self.read(ptr, len)
    }

    /// Calls the guest allocator unless allocations are already nested
    /// `max_alloc_depth` deep (a guest allocator that makes host calls that allocate).
    pub(crate) fn guest_alloc(&mut self, size: u64) -> Result<u64, HostError> {
        let h = self.host();
        if h.alloc_depth >= h.bounds.max_alloc_depth {
            return Err(HostError::AllocDepth(h.bounds.max_alloc_depth));
        }
        h.alloc_depth += 1;
        // A nested host call resets the per-call count; the outer call's resumes after.
        let spent = h.call_bytes;
        let r = self.alloc(size);
        let h = self.host();
        h.alloc_depth -= 1;
        h.call_bytes = spent;
        r
    }
}

#[cfg(test)]
mod tests {
    use crate::host::{Clock, HostState, SharedData};

    #[test]
    fn request_state_counts_what_is_held_not_what_was_written() {
        let mut h = HostState::new(None, Clock::Fixed(0), SharedData::new());
        h.bounds.max_host_state_bytes = 100;
        h.charge_stream(60, 0).unwrap();
        // A body re-set a thousand times in place holds 60 bytes, not 60 000.
        for _ in 0..1000 {
            h.charge_stream(60, 60).unwrap();
        }
        assert_eq!(h.stream.guest_bytes, 60);
        // Growth past the bound is still refused.
        assert!(h.charge_stream(41, 0).is_err());
        assert_eq!(h.stream.guest_bytes, 60, "a refused charge holds nothing");
    }
}
