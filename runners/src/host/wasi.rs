//! The small WASI subset the proxy-wasm spec lets a module import, so filters built for
//! `wasm32-wasip1` (the target of the SDK's own examples) run unchanged. Output on stdout and
//! stderr becomes log records; randomness is a seeded generator, so runs are reproducible.

use filterbench_abi::Kind;

use super::abi::{GuestMemory, HostError};
use super::state::{LogRecord, MAX_LOG_RECORDS};

const ESUCCESS: u32 = 0;
const EBADF: u32 = 8;
const EINVAL: u32 = 28;

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
    fd_prestat_get(U32, Ptr) -> 1;
    fd_prestat_dir_name(U32, Ptr, Size) -> 1;
    clock_time_get(U32, U64, Ptr) -> 1;
    random_get(Ptr, Size) -> 1;
    environ_sizes_get(Ptr, Ptr) -> 1;
    environ_get(Ptr, Ptr) -> 1;
    args_sizes_get(Ptr, Ptr) -> 1;
    args_get(Ptr, Ptr) -> 1;
    sched_yield() -> 1;
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
        WasiFn::proc_exit => Err(HostError::Exit(a[0] as u32 as i32)),
    }
}
