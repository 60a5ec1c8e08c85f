//! Writing an output file whole or not at all: a reader (a CI step, a browser reloading the
//! page) never sees half a file, and an interrupted write leaves the previous one in place.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed over it.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.is_dir() {
        bail!("{} is a folder; give a file name", path.display());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .and_then(|mut t| t.write_all(bytes).map(|()| t))
        .with_context(|| format!("writing into {}", dir.display()))?;
    tmp.flush()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// True when `a` and `b` name the same existing file (through links or `..` alike).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_refuses_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.txt");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        // Only the file itself is left: no temporary beside it.
        assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 1);
        assert!(write(dir.path(), b"x").is_err());
        assert!(same_file(&p, &dir.path().join("a/../a/b.txt")));
        assert!(!same_file(&p, &dir.path().join("a/c.txt")));
    }
}
