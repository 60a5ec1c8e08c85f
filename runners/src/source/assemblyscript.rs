//! An AssemblyScript project on @solo-io/proxy-runtime: its `assembly/index.ts` (or
//! `index.ts`) compiled by the pinned `asc` of `filters/assemblyscript` with our filters'
//! flags. Wasm only: AssemblyScript has no native build.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Built, Job, SourceError, SourceLanguage, flags};

pub const LANGUAGE: SourceLanguage = SourceLanguage {
    name: "assemblyscript",
    detect: |p| {
        p.join("package.json").is_file()
            || p.join("assembly/index.ts").is_file()
            || p.extension().is_some_and(|x| x == "ts")
    },
    build,
};

/// The entry file of a project folder, or the file given.
fn entry(source: &Path) -> Option<PathBuf> {
    if source.is_file() {
        return Some(source.to_path_buf());
    }
    ["assembly/index.ts", "index.ts"]
        .iter()
        .map(|e| source.join(e))
        .find(|p| p.is_file())
}

fn build(job: &Job) -> Result<Built, SourceError> {
    let ours = crate::catalog::source_dir().join("assemblyscript");
    let install = format!(
        "Node.js and npm (apt-get install nodejs npm), then `npm ci` in {} (scripts/setup.sh \
         does both)",
        ours.display()
    );
    let node = super::output(
        Command::new("node").arg("--version"),
        "AssemblyScript",
        &install,
    )?;
    let asc = ours.join("node_modules/.bin/asc");
    if !node.status.success() || !asc.is_file() {
        return Err(SourceError::Toolchain {
            language: "AssemblyScript",
            what: format!("no {}", asc.display()),
            install,
        });
    }
    let project = if job.source.is_dir() {
        job.source.clone()
    } else {
        job.source.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let entry = entry(&job.source).ok_or_else(|| SourceError::NoArtifact {
        what: "the project".into(),
        path: job.source.clone(),
        artifact: "entry file (assembly/index.ts or index.ts)".into(),
    })?;
    let wasm = job.out.join(format!("{}.wasm", job.stem));
    let mut cmd = Command::new(&asc);
    cmd.current_dir(&project).arg(&entry).args(flags::ASC);
    // A project without its own node_modules resolves @solo-io/proxy-runtime from ours.
    if !project.join("node_modules/@solo-io/proxy-runtime").is_dir() {
        cmd.arg("--path").arg(ours.join("node_modules"));
    }
    cmd.arg("-b").arg(&wasm);
    super::compile(&mut cmd, "AssemblyScript", &install, &job.source)?;
    Ok(Built {
        language: LANGUAGE.name,
        wasm,
        native: None,
    })
}
