//! The small WASI subset the proxy-wasm spec lets a module import, so filters built for
//! `wasm32-wasip1` (the target of the SDK's own examples) run unchanged. Output on stdout and
//! stderr becomes log records; randomness is a seeded generator, so runs are reproducible.
//! Go's `wasip1` runtime (the Go filters) imports ten of these, `poll_oneoff` and `sched_yield`
//! among them for its idle scheduler: none ever blocks or reads the wall clock. The public
//! proxy-wasm Go SDK's builds add `fd_fdstat_set_flags`.

use filterbench_abi::Kind;

use super::abi::{GuestMemory, HostError};
use super::state::{LogRecord, MAX_LOG_RECORDS};

const ESUCCESS: u32 = 0;
const EBADF: u32 = 8;
const EINVAL: u32 = 28;

/// `poll_oneoff`: a subscription is 48 bytes (userdata, tag, then the clock or fd record), an
/// event 32 (userdata, errno, type, fd_readwrite).
const SUBSCRIPTION_BYTES: u64 = 48;
const EVENT_BYTES: usize = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;

/// The WASI module name of the preview 1 ABI.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The older module name (`wasi_unstable`, preview 0), for the functions whose signature and
/// meaning did not change: only `proc_exit`, which AssemblyScript's `abort` imports from it.
pub const MODULE_UNSTABLE: &str = "wasi_unstable";
pub const UNSTABLE_ALIASES: &[WasiFn] = &[WasiFn::proc_exit];

macro_rules! wasi_fns {
    ($($name:ident($($kind:ident),*) -> $results:literal;)*) => {
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum WasiFn { $($name),* }

        /// (function, import name, parameter kinds, number of results)
        pub static WASI_FUNCTIONS: &[(WasiFn, &str, &[Kind], usize)] = &[
            $((WasiFn::$name, stringify!($name), &[$(Kind::$kind),*], $results)),*
        ];
    };
}

wasi_fns! {
    fd_write(U32, Ptr, Size, Ptr) -> 1;
    fd_read(U32, Ptr, Size, Ptr) -> 1;
    fd_close(U32) -> 1;
    fd_seek(U32, I64, U32, Ptr) -> 1;
    fd_fdstat_get(U32, Ptr) -> 1;
    fd_fdstat_set_flags(U32, U32) -> 1;
    fd_prestat_get(U32, Ptr) -> 1;
    fd_prestat_dir_name(U32, Ptr, Size) -> 1;
    clock_time_get(U32, U64, Ptr) -> 1;
    random_get(Ptr, Size) -> 1;
    environ_sizes_get(Ptr, Ptr) -> 1;
    environ_get(Ptr, Ptr) -> 1;
    args_sizes_get(Ptr, Ptr) -> 1;
    args_get(Ptr, Ptr) -> 1;
    sched_yield() -> 1;
    poll_oneoff(Ptr, Ptr, Size, Ptr) -> 1;
    proc_exit(U32) -> 0;
}

/// Runs WASI function `f`; returns its errno.
pub fn dispatch(f: WasiFn, m: &mut dyn GuestMemory, a: &[u64]) -> Result<u32, HostError> {
    let stdio = |fd: u64| fd <= 2;
    match f {
        WasiFn::fd_write => {
            if a[0] != 1 && a[0] != 2 {
                return Ok(EBADF);
            }
            // The iovec array in one read: its length is charged to the call and checked
            // against guest memory before anything is allocated.
            let iovs = m.take(a[1], a[2].saturating_mul(8))?;
            let mut text = Vec::new();
            for iov in iovs.chunks_exact(8) {
                let word =
                    |i: usize| u32::from_le_bytes([iov[i], iov[i + 1], iov[i + 2], iov[i + 3]]);
                text.extend(m.take(word(0) as u64, word(4) as u64)?);
            }
            m.write(a[3], &(text.len() as u32).to_le_bytes())?;
            let h = m.host();
            if h.capture_logs && h.logs.len() < MAX_LOG_RECORDS {
                // stdout as info, stderr as error, like Envoy's wasm log routing.
                let level = if a[0] == 1 { 2 } else { 4 };
                let message = String::from_utf8_lossy(&text).trim_end().to_string();
                h.charge_log(message.len() as u64)?;
                h.logs.push(LogRecord { level, message });
            }
            Ok(ESUCCESS)
        }
        WasiFn::fd_read => Ok(EBADF),
        WasiFn::fd_close => Ok(if stdio(a[0]) { ESUCCESS } else { EBADF }),
        WasiFn::fd_seek => Ok(EBADF),
        WasiFn::fd_fdstat_get => {
            if !stdio(a[0]) {
                return Ok(EBADF);
            }
            // fdstat: filetype (character device), flags, rights base and inheriting.
            let mut st = [0u8; 24];
            st[0] = 2;
            m.write(a[1], &st)?;
            Ok(ESUCCESS)
        }
        // Go's wasip1 runtime (the proxy-wasm Go SDK's builds) marks stdout and stderr
        // non-blocking at start; our writes never block, so the flag changes nothing.
        WasiFn::fd_fdstat_set_flags => Ok(if stdio(a[0]) { ESUCCESS } else { EBADF }),
        // No preopened directories: libc stops scanning at the first EBADF.
        WasiFn::fd_prestat_get | WasiFn::fd_prestat_dir_name => Ok(EBADF),
        WasiFn::clock_time_get => {
            if a[0] > 3 {
                return Ok(EINVAL);
            }
            let now = m.host().clock.now_ns();
            m.write(a[2], &now.to_le_bytes())?;
            Ok(ESUCCESS)
        }
        WasiFn::random_get => {
            let bytes: Vec<u8> = {
                let h = m.host();
                // Charged before generating: the length is the guest's.
                h.charge_call("random_get output", a[1])?;
                (0..a[1]).map(|_| h.next_random() as u8).collect()
            };
            m.write(a[0], &bytes)?;
            Ok(ESUCCESS)
        }
        WasiFn::environ_sizes_get | WasiFn::args_sizes_get => {
            m.write(a[0], &0u32.to_le_bytes())?;
            m.write(a[1], &0u32.to_le_bytes())?;
            Ok(ESUCCESS)
        }
        WasiFn::environ_get | WasiFn::args_get | WasiFn::sched_yield => Ok(ESUCCESS),
        WasiFn::poll_oneoff => {
            if a[2] == 0 {
                return Ok(EINVAL);
            }
            // Every subscription is answered at once, so the call never waits: a clock
            // fires immediately (the host clock is the fixture's and does not move), stdout and
            // stderr are writable, and any other fd is EBADF. The input is charged to the call
            // before its events are built, which bounds both.
            let subs = m.take(a[0], a[2].saturating_mul(SUBSCRIPTION_BYTES))?;
            let mut events = Vec::with_capacity(a[2] as usize * EVENT_BYTES);
            for sub in subs.chunks_exact(SUBSCRIPTION_BYTES as usize) {
                let tag = sub[8];
                let fd = u32::from_le_bytes([sub[16], sub[17], sub[18], sub[19]]);
                let errno = match tag {
                    EVENTTYPE_CLOCK => ESUCCESS,
                    EVENTTYPE_FD_WRITE if fd == 1 || fd == 2 => ESUCCESS,
                    EVENTTYPE_FD_WRITE | EVENTTYPE_FD_READ => EBADF,
                    _ => return Ok(EINVAL),
                };
                let mut ev = [0u8; EVENT_BYTES];
                ev[..8].copy_from_slice(&sub[..8]);
                ev[8..10].copy_from_slice(&(errno as u16).to_le_bytes());
                ev[10] = tag;
                events.extend_from_slice(&ev);
            }
            m.write(a[1], &events)?;
            m.write(a[3], &(a[2] as u32).to_le_bytes())?;
            Ok(ESUCCESS)
        }
        WasiFn::proc_exit => Err(HostError::Exit(a[0] as u32 as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Clock, HostState, SharedData};

    /// A flat wasm32-style memory.
    struct Flat(Vec<u8>, HostState);

    impl GuestMemory for Flat {
        fn ptr_size(&self) -> usize {
            4
        }
        fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
            let (p, l) = (ptr as usize, len as usize);
            self.0
                .get(p..p + l)
                .map(<[u8]>::to_vec)
                .ok_or(HostError::OutOfBounds { ptr, len })
        }
        fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), HostError> {
            let p = ptr as usize;
            let len = data.len() as u64;
            let dst = self
                .0
                .get_mut(p..p + data.len())
                .ok_or(HostError::OutOfBounds { ptr, len })?;
            dst.copy_from_slice(data);
            Ok(())
        }
        fn alloc(&mut self, _size: u64) -> Result<u64, HostError> {
            Ok(0)
        }
        fn host(&mut self) -> &mut HostState {
            &mut self.1
        }
    }

    fn subscription(userdata: u8, tag: u8, fd: u32) -> [u8; 48] {
        let mut s = [0u8; 48];
        s[0] = userdata;
        s[8] = tag;
        s[16..20].copy_from_slice(&fd.to_le_bytes());
        s
    }

    /// Go's idle scheduler sleeps through poll_oneoff: every subscription must be answered at
    /// once (no waiting), in order, with its userdata.
    #[test]
    fn poll_oneoff_answers_every_subscription_at_once() {
        let host = HostState::new(None, Clock::Fixed(0), SharedData::new());
        let mut m = Flat(vec![0; 1024], host);
        let subs = [
            subscription(7, EVENTTYPE_CLOCK, 0),
            subscription(8, EVENTTYPE_FD_WRITE, 2),
            subscription(9, EVENTTYPE_FD_READ, 5),
        ];
        m.write(0, &subs.concat()).unwrap();
        let errno = dispatch(WasiFn::poll_oneoff, &mut m, &[0, 200, 3, 400]).unwrap();
        assert_eq!(errno, ESUCCESS);
        assert_eq!(m.read(400, 4).unwrap(), 3u32.to_le_bytes());
        let events = m.read(200, 96).unwrap();
        let event = |i: usize| (events[i * 32], events[i * 32 + 8], events[i * 32 + 10]);
        assert_eq!(event(0), (7, ESUCCESS as u8, EVENTTYPE_CLOCK));
        assert_eq!(event(1), (8, ESUCCESS as u8, EVENTTYPE_FD_WRITE));
        assert_eq!(event(2), (9, EBADF as u8, EVENTTYPE_FD_READ));
        // No subscriptions, or an unknown kind, is EINVAL.
        let poll = |m: &mut Flat, n: u64| dispatch(WasiFn::poll_oneoff, m, &[0, 200, n, 400]);
        assert_eq!(poll(&mut m, 0).unwrap(), EINVAL);
        m.write(8, &[9]).unwrap();
        assert_eq!(poll(&mut m, 1).unwrap(), EINVAL);
    }

    /// Go's runtime sets stdout and stderr non-blocking at start: accepted for stdio, EBADF
    /// for any other fd (there are no files).
    #[test]
    fn fd_fdstat_set_flags_accepts_stdio_only() {
        let host = HostState::new(None, Clock::Fixed(0), SharedData::new());
        let mut m = Flat(vec![0; 64], host);
        let set = |m: &mut Flat, fd: u64| dispatch(WasiFn::fd_fdstat_set_flags, m, &[fd, 4]);
        assert_eq!(set(&mut m, 1).unwrap(), ESUCCESS);
        assert_eq!(set(&mut m, 2).unwrap(), ESUCCESS);
        assert_eq!(set(&mut m, 3).unwrap(), EBADF);
    }
}
