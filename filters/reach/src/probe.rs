//! The attempts, each returning what happened in words. The wasm build asks the host through
//! the WASI calls the proxy-wasm ABI lists (std on wasm32-unknown-unknown has no environment,
//! files or sockets, so it alone would never reach the host); the native build uses std, as
//! any native code in the proxy's process can.

use proxy_wasm::hostcalls;

/// Reads a property by path.
pub fn property(path: &[&str]) -> String {
    let name = path.join(".");
    match hostcalls::get_property(path.to_vec()) {
        Ok(Some(v)) => format!("{name}={}", String::from_utf8_lossy(&v)),
        Ok(None) => format!("{name}: not found"),
        Err(e) => format!("{name}: {e:?}"),
    }
}

#[cfg(target_family = "wasm")]
mod wasi {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        pub fn environ_sizes_get(count: *mut u32, size: *mut u32) -> i32;
        pub fn environ_get(environ: *mut *mut u8, buf: *mut u8) -> i32;
        pub fn fd_prestat_get(fd: u32, buf: *mut u8) -> i32;
    }
}

/// The environment as the host hands it over WASI: `NAME=value` strings.
#[cfg(target_family = "wasm")]
fn wasi_environ() -> Result<Vec<String>, String> {
    let (mut count, mut size) = (0u32, 0u32);
    // SAFETY: both pointers are to live locals.
    let errno = unsafe { wasi::environ_sizes_get(&mut count, &mut size) };
    if errno != 0 {
        return Err(format!("environ_sizes_get: errno {errno}"));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut ptrs = vec![std::ptr::null_mut::<u8>(); count as usize];
    let mut buf = vec![0u8; size as usize];
    // SAFETY: buffers of the sizes the host asked for.
    let errno = unsafe { wasi::environ_get(ptrs.as_mut_ptr(), buf.as_mut_ptr()) };
    if errno != 0 {
        return Err(format!("environ_get: errno {errno}"));
    }
    Ok(buf
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

/// Over WASI only: std's `env::vars` on wasm32-unknown-unknown panics ("not supported"),
/// which would say nothing about the host.
#[cfg(target_family = "wasm")]
pub fn env(name: &str) -> String {
    match wasi_environ() {
        Ok(vars) => {
            let prefix = format!("{name}=");
            let what = match vars.iter().find(|v| v.starts_with(&prefix)) {
                Some(v) => format!("read {v}"),
                None => format!("{name} not visible"),
            };
            format!("{what}; WASI environ_get gave {} variables", vars.len())
        }
        Err(e) => format!("{name} not visible; WASI {e}"),
    }
}

#[cfg(not(target_family = "wasm"))]
pub fn env(name: &str) -> String {
    let count = std::env::vars_os().count();
    match std::env::var(name) {
        Ok(v) => format!("read {name}={v}; the process environment has {count} variables"),
        Err(e) => format!("{name}: {e}; the process environment has {count} variables"),
    }
}

#[cfg(target_family = "wasm")]
pub fn file(path: Option<&str>) -> String {
    let std = match path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => format!("read {p}: {text}"),
            Err(e) => format!("std::fs on {p}: {e}"),
        },
        None => "no canary_file configured".into(),
    };
    // A WASI module can open files only under a preopened directory (fd 3 onwards).
    let mut prestat = [0u8; 8];
    // SAFETY: an 8-byte buffer, the size of a WASI prestat.
    let errno = unsafe { wasi::fd_prestat_get(3, prestat.as_mut_ptr()) };
    let wasi = match errno {
        0 => "WASI fd_prestat_get(3): a preopened directory exists".to_string(),
        8 => "WASI fd_prestat_get(3): errno 8 (EBADF: no preopened directory)".to_string(),
        e => format!("WASI fd_prestat_get(3): errno {e}"),
    };
    format!("{std}; {wasi}")
}

#[cfg(not(target_family = "wasm"))]
pub fn file(path: Option<&str>) -> String {
    match path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => format!("read {p}: {text}"),
            Err(e) => format!("open {p}: {e}"),
        },
        None => "no canary_file configured: not attempted".into(),
    }
}

/// Stores a byte 64 bytes past the end of linear memory: a sandboxed engine must trap.
#[cfg(target_family = "wasm")]
pub fn oob_write(_addr: Option<u64>, _value: Option<&str>, _env: &str) -> String {
    let end = core::arch::wasm32::memory_size(0).wrapping_mul(65536);
    let target = end.wrapping_add(64);
    // SAFETY: deliberately not: the point is whether the engine lets this store happen.
    unsafe { core::ptr::write_volatile(target as *mut u8, 0x5a) };
    format!("stored a byte at {target:#x}, past the end of linear memory ({end} bytes), no trap")
}

/// Writes `value` at `addr`, memory of the host process this filter did not allocate (the
/// harness placed a buffer there and reads it back). Without an address (a proxy the harness
/// cannot hand one), over the value of the environment variable `env` in the process's
/// environment block, which the harness reads back from `/proc/<pid>/environ`.
#[cfg(not(target_family = "wasm"))]
pub fn oob_write(addr: Option<u64>, value: Option<&str>, env: &str) -> String {
    let Some(value) = value else {
        return "no write_value configured: not attempted".into();
    };
    if let Some(addr) = addr {
        // SAFETY: only as safe as the harness's word that `addr` has room for `value`: this
        // is the reach being shown (native code writes wherever it is told).
        unsafe {
            std::ptr::copy_nonoverlapping(value.as_ptr(), addr as usize as *mut u8, value.len());
        }
        return format!("wrote {} bytes at {addr:#x}", value.len());
    }
    unsafe extern "C" {
        fn getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char;
    }
    let Ok(name) = std::ffi::CString::new(env) else {
        return format!("{env}: not a variable name: not attempted");
    };
    // SAFETY: a NUL-terminated name; the result is NULL or a NUL-terminated string.
    let at = unsafe { getenv(name.as_ptr()) };
    if at.is_null() {
        return format!("{env} is not in the process environment: not attempted");
    }
    // SAFETY: `at` points to a NUL-terminated value; only that many bytes are overwritten.
    let room = unsafe { std::ffi::CStr::from_ptr(at) }.to_bytes().len();
    let n = value.len().min(room);
    // SAFETY: n ≤ the value's length, inside the environment block.
    unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), at.cast::<u8>(), n) };
    format!(
        "wrote {n} bytes over the value of {env} at {:#x}, in the process's environment",
        at as usize
    )
}

/// Connects to 127.0.0.1:`port` and sends `value`.
pub fn socket(port: Option<u16>, value: Option<&str>) -> String {
    use std::io::Write as _;
    let Some(port) = port else {
        return "no socket_port configured: not attempted".into();
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)) {
        Ok(mut s) => {
            let sent = s.write_all(value.unwrap_or_default().as_bytes());
            format!("connected to {addr}; sent: {sent:?}")
        }
        // On wasm32-unknown-unknown std has no sockets: the ABI offers the module no call
        // that could make one, which is the point.
        Err(e) if cfg!(target_family = "wasm") => {
            format!("connect to {addr}: {e} (no socket call among the module's imports)")
        }
        Err(e) => format!("connect to {addr}: {e}"),
    }
}
