pub mod atomic;
pub mod compare;
pub mod fixtures;
pub mod flame;
pub mod instructions;
pub mod list;
pub mod profile;
pub mod report;
pub mod run;
pub mod summary;
pub mod worker;

use anyhow::{Result, bail};

/// This very program, for this process to start again (a worker). `/proc/self/exe` stays valid
/// when the file is replaced meanwhile (a rebuild during a long run), where the path
/// `current_exe` gives would then name a deleted file. Only for our own exec: handed to another
/// program (perf, valgrind) it would name that program.
pub fn this_program() -> std::io::Result<std::path::PathBuf> {
    let own = std::path::Path::new("/proc/self/exe");
    if own.exists() {
        Ok(own.to_path_buf())
    } else {
        std::env::current_exe()
    }
}
use filterbench_runners::{catalog, engines};

/// The arms named on the command line (all of them when none is given), checked by name.
pub fn select_arms(arms: &[String]) -> Result<Vec<&'static str>> {
    let known = engines::arm_names();
    if arms.is_empty() {
        return Ok(known);
    }
    arms.iter()
        .map(|a| {
            known
                .iter()
                .find(|k| **k == a.as_str())
                .copied()
                .ok_or_else(|| anyhow::anyhow!("unknown arm `{a}` (known: {})", known.join(", ")))
        })
        .collect()
}

/// The filters named on the command line (when none is given, all but the test filters).
pub fn select_filters(names: &[String]) -> Result<Vec<catalog::Filter>> {
    let all = catalog::discover()?;
    let skipped = catalog::skipped();
    if names.is_empty() {
        for (name, why) in &skipped {
            eprintln!("note: filter {name} is not built here: {why}");
        }
        // Filters that test the suite itself run only when named.
        return Ok(all.into_iter().filter(|f| !f.is_test()).collect());
    }
    if let Some((name, why)) = skipped.iter().find(|(n, _)| names.contains(n)) {
        bail!("filter {name} is not built here: {why}");
    }
    let mut out = Vec::new();
    for n in names {
        match all.iter().find(|f| f.name == *n) {
            Some(f) => out.push(f.clone()),
            None => bail!(
                "unknown filter `{n}` (known: {})",
                all.iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(out)
}
