//! What the process can tell about itself: thread and process CPU time, resident memory,
//! and (through a probe the binary installs) live heap bytes.

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time consumed by the whole process (every thread).
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Resident set size of this process, from `/proc/self/statm`; None where it cannot be read.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    Some(pages * page)
}

/// Resident memory of this process split by what backs it, from `/proc/self/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resident {
    pub total: u64,
    /// Private anonymous pages: heaps, stacks, a library's written data — a VM's own state.
    pub anon: u64,
    /// Pages mapped from files or shared memory (code, read-only data, copy-on-write
    /// images): the same page mapped twice counts twice, so this is code a VM does not share.
    pub file: u64,
}

/// [`Resident`] now; `None` where `/proc/self/status` has no such lines.
pub fn resident() -> Option<Resident> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some(Resident {
        total: kib("VmRSS:")?,
        anon: kib("RssAnon:")?,
        file: kib("RssFile:")? + kib("RssShmem:")?,
    })
}

/// Hands malloc's free pages back to the kernel, so memory freed by an earlier step (cold
/// start's VMs) is not silently reused resident: without this, a VM allocated into freed
/// pages adds no RSS at all (glibc's `malloc_trim`; a no-op elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes currently allocated through malloc by the whole process (host, engines and native
/// filters alike), from glibc's `mallinfo2`.
pub fn heap_bytes() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 has no preconditions; it only reads allocator statistics.
        let mi = unsafe { libc::mallinfo2() };
        Some((mi.uordblks + mi.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Facts about this machine for the results file.
pub fn machine() -> filterbench_results::Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once([':', '=']))
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let meminfo = read("/proc/meminfo");
    let mem_kib: Option<u64> = field(&meminfo, "MemTotal")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok());
    filterbench_results::Machine {
        hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
        os: field(&read("/etc/os-release"), "PRETTY_NAME"),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        cpu_model: field(&read("/proc/cpuinfo"), "model name"),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes: mem_kib.map(|k| k * 1024),
    }
}
