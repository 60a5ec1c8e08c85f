//! `compare --ref`: another revision of this repository, checked out and built beside this one.
//!
//! Everything lives in `<checkout>/target/filterbench-ref/` and is kept between runs, a cache:
//! - `tree/`: one git worktree, detached, moved to whichever commit is asked for. One tree
//!   rather than one per commit: its packages keep their paths, so cargo's hashes for them stay
//!   the same and a commit close to the last one rebuilds only the crates that differ, and
//!   their artifacts replace the last commit's instead of piling up. `cargo clean` deletes it;
//!   the next run prunes git's record of it.
//! - `target/`: the tree's `CARGO_TARGET_DIR`. Its `deps`, `build` and `.fingerprint` folders
//!   (and those of the nested filter builds) are links to this checkout's, so every crates.io
//!   dependency compiled here is reused, not compiled again (the tree's own packages sit at
//!   another path and get their own hashes). Its own `release/filterbench` and, above all, its
//!   own `filterbench-filters/` (runners/build.rs puts the filter builds beside the target dir
//!   and bakes that path into the binary) keep the two builds from overwriting each other's
//!   binary and filters — which sharing the target dir itself would do.
//! - `.lock`: one `compare --ref` at a time in this checkout.
//!
//! While the tree builds, this checkout's own build lock (`target/release/.cargo-lock`) is held
//! too: the shared folders must not be written by two cargos at once, and cargo only locks the
//! target dir it is given.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// `git -C dir args…`: its standard output, trimmed; on failure, its message.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The top folder of the checkout the current folder is in.
pub fn toplevel() -> Result<PathBuf> {
    let dir = std::env::current_dir()?;
    let top = git(&dir, &["rev-parse", "--show-toplevel"])
        .context("--ref builds a revision of the git checkout of filterbench it is run in")?;
    Ok(PathBuf::from(top))
}

/// The commit `name` stands for (a branch, tag, `HEAD~1`, a hash).
pub fn resolve(top: &Path, name: &str) -> Result<String> {
    // A leading dash would be read by git as an option.
    if name.is_empty() || name.starts_with('-') {
        bail!("--ref `{name}` is not a revision name");
    }
    let spec = format!("{name}^{{commit}}");
    git(top, &["rev-parse", "--verify", "--quiet", &spec])
        .ok()
        .filter(|s| !s.is_empty())
        .with_context(|| format!("--ref `{name}` names no commit in {}", top.display()))
}

/// Takes an exclusive lock on `path`, saying what it waits for when someone else holds it.
fn lock(path: &Path, holder: &str) -> Result<File> {
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("waiting for {holder} ({})", path.display());
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

/// The cache folder of one checkout, locked while this value lives.
pub struct Cache {
    pub dir: PathBuf,
    top: PathBuf,
    _lock: File,
}

impl Cache {
    pub fn open(top: &Path) -> Result<Cache> {
        let dir = own_target(top).join("filterbench-ref");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = lock(&dir.join(".lock"), "another `filterbench compare --ref`")?;
        Ok(Cache {
            dir,
            top: top.to_path_buf(),
            _lock: lock,
        })
    }

    /// The worktree, clean, at `commit`.
    pub fn checkout(&self, commit: &str) -> Result<PathBuf> {
        let tree = self.dir.join("tree");
        // Records of worktrees whose folder is gone (a `cargo clean`, an interrupted add).
        git(&self.top, &["worktree", "prune"])?;
        if tree.exists() {
            match self.reuse(&tree, commit) {
                Ok(()) => return Ok(tree),
                Err(e) => {
                    eprintln!("note: making the worktree {} again ({e:#})", tree.display());
                    self.discard(&tree)?;
                }
            }
        }
        let path = tree.to_string_lossy();
        // A worktree killed while being added stays "locked"; unlocking a path that is no
        // worktree fails harmlessly.
        let _ = git(&self.top, &["worktree", "unlock", &path]);
        git(&self.top, &["worktree", "prune"])?;
        if let Err(e) = git(
            &self.top,
            &["worktree", "add", "--detach", "--quiet", &path, commit],
        ) {
            // Leave neither a half-made folder nor its record behind.
            self.discard(&tree)?;
            return Err(e);
        }
        self.share_node_modules(&tree);
        Ok(tree)
    }

    fn reuse(&self, tree: &Path, commit: &str) -> Result<()> {
        let common = |dir: &Path| -> Result<PathBuf> {
            let d = git(
                dir,
                &["rev-parse", "--path-format=absolute", "--git-common-dir"],
            )?;
            Ok(std::fs::canonicalize(d)?)
        };
        if common(tree)? != common(&self.top)?
            || std::fs::canonicalize(git(tree, &["rev-parse", "--show-toplevel"])?)?
                != std::fs::canonicalize(tree)?
        {
            bail!("it is not a worktree of {}", self.top.display());
        }
        // Forced: whatever an earlier build or an interrupted run left there is ours to drop.
        git(
            tree,
            &["checkout", "--quiet", "--force", "--detach", commit],
        )?;
        git(tree, &["clean", "-d", "--force", "--quiet"])?;
        self.share_node_modules(tree);
        Ok(())
    }

    fn discard(&self, tree: &Path) -> Result<()> {
        let _ = git(
            &self.top,
            &[
                "worktree",
                "remove",
                "--force",
                "--force",
                &tree.to_string_lossy(),
            ],
        );
        if tree.exists() {
            std::fs::remove_dir_all(tree)
                .with_context(|| format!("removing {}", tree.display()))?;
        }
        git(&self.top, &["worktree", "prune"]).map(drop)
    }

    /// The AssemblyScript compiler is installed by `npm ci`, not committed: a copy of this
    /// checkout's (git ignores the folder) lets the tree build those filters too, offline.
    fn share_node_modules(&self, tree: &Path) {
        let rel = "filters/assemblyscript/node_modules";
        let (from, to) = (self.top.join(rel), tree.join(rel));
        if from.is_dir() && !to.exists() && to.parent().is_some_and(Path::is_dir) {
            let ok = Command::new("cp")
                .arg("-a")
                .arg(&from)
                .arg(&to)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "note: could not copy {}; the ref skips the AssemblyScript filters",
                    from.display()
                );
            }
        }
    }

    /// Builds the tree as scripts/build.sh does, and gives its `filterbench`.
    pub fn build(&self, tree: &Path) -> Result<PathBuf> {
        let own = own_target(&self.top);
        let target = self.dir.join("target");
        share_compiled(&own, &target)?;
        let release = own.join("release");
        std::fs::create_dir_all(&release)?;
        let _held = lock(&release.join(".cargo-lock"), "this checkout's cargo build")?;
        let started = Instant::now();
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
        cmd.current_dir(tree)
            .args(["build", "--release", "--workspace", "--all-targets"])
            .env("CARGO_TARGET_DIR", &target)
            // Today's lints are not the old revision's; and the layout above assumes no
            // --target.
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CLIPPY_ARGS")
            .env_remove("CARGO_BUILD_TARGET")
            .stdin(Stdio::null());
        crate::cmd::die_with_parent(&mut cmd, libc::SIGTERM);
        let status = cmd.status().context("starting cargo")?;
        if !status.success() {
            bail!(
                "building {} failed ({status}); the worktree stays there, clean, for a look",
                tree.display()
            );
        }
        let bin = target.join("release/filterbench");
        if !bin.is_file() {
            bail!("the build made no {}", bin.display());
        }
        eprintln!("built the ref in {:.0} s", started.elapsed().as_secs_f64());
        Ok(bin)
    }
}

/// This checkout's cargo target dir.
fn own_target(top: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => top.join(d),
        None => top.join("target"),
    }
}

/// Links `deps`, `build` and `.fingerprint` of every profile folder of `own` (the release one
/// and the nested filter builds') into the same place under `other`.
fn share_compiled(own: &Path, other: &Path) -> Result<()> {
    let mut profiles = vec![PathBuf::from("release")];
    let filters = Path::new("filterbench-filters");
    if let Ok(entries) = std::fs::read_dir(own.join(filters)) {
        for e in entries.flatten() {
            let name = PathBuf::from(e.file_name());
            // `filters/` (host) or `<target triple>/filters/`.
            for p in [filters.join(&name), filters.join(&name).join("filters")] {
                if own.join(&p).join("deps").is_dir() {
                    profiles.push(p);
                }
            }
        }
    }
    for p in profiles {
        std::fs::create_dir_all(other.join(&p))?;
        for d in ["deps", "build", ".fingerprint"] {
            let (src, link) = (own.join(&p).join(d), other.join(&p).join(d));
            std::fs::create_dir_all(&src)?;
            // A folder already there (a build before the links) is kept: it works, unshared.
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(&src, &link)
                    .with_context(|| format!("linking {}", link.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_links_every_profile_folder_and_keeps_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let (own, other) = (dir.path().join("own"), dir.path().join("other"));
        for p in [
            "release/deps",
            "filterbench-filters/filters/deps",
            "filterbench-filters/wasm32-unknown-unknown/filters/deps",
        ] {
            std::fs::create_dir_all(own.join(p)).unwrap();
        }
        std::fs::create_dir_all(other.join("release/build")).unwrap();
        share_compiled(&own, &other).unwrap();
        share_compiled(&own, &other).unwrap();
        let link = |p: &str| std::fs::read_link(other.join(p)).ok();
        assert_eq!(link("release/deps"), Some(own.join("release/deps")));
        assert_eq!(link("release/build"), None, "a real folder is kept");
        assert_eq!(
            link("filterbench-filters/wasm32-unknown-unknown/filters/.fingerprint"),
            Some(own.join("filterbench-filters/wasm32-unknown-unknown/filters/.fingerprint"))
        );
        assert!(link("filterbench-filters/filters/deps").is_some());
    }

    #[test]
    fn a_name_that_is_no_commit_is_one_error() {
        let top = toplevel().unwrap();
        assert_eq!(resolve(&top, "HEAD").unwrap().len(), 40);
        let e = format!("{:#}", resolve(&top, "nosuchref").unwrap_err());
        assert!(
            e.starts_with("--ref `nosuchref` names no commit in "),
            "{e}"
        );
        assert!(resolve(&top, "--all").is_err());
    }
}
