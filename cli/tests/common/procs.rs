//! The processes a test looks for: children of a pid, and whether one is still alive (not a
//! zombie). Shared by the tests that check nothing outlives `filterbench run`.

/// Pids of the live (not zombie) processes whose parent is `ppid`.
pub fn children(ppid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after its ')'.
        let mut rest = stat.rsplit_once(')').map_or("", |r| r.1).split_whitespace();
        let state = rest.next().unwrap_or("");
        if state != "Z" && rest.next() == Some(&ppid.to_string()) {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|r| !r.1.trim_start().starts_with('Z'))
    })
}
