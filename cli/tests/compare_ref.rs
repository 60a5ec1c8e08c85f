//! `filterbench compare --ref`: another revision built in a worktree and measured against this
//! build. What is refused is refused at once and leaves git's worktree list as it was; the whole
//! round (a build of the revision, two measurements) takes minutes, so that test is ignored by
//! default.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{filterbench, text};

fn git(args: &[&str]) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn worktrees() -> String {
    git(&["worktree", "list", "--porcelain"])
}

#[test]
fn a_ref_that_names_no_commit_is_one_error_and_adds_no_worktree() {
    let before = worktrees();
    let o = filterbench(&["compare", "--ref", "nosuchref", "--", "--quick"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --ref `nosuchref` names no commit in "),
        "{stderr}"
    );
    assert_eq!(worktrees(), before);
}

#[test]
fn bad_run_arguments_and_mixed_modes_are_refused_before_any_build() {
    let before = worktrees();
    let o = filterbench(&["compare", "--ref", "HEAD", "--", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("run arguments after `--`: unexpected argument '--no-such-flag'"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("building"), "{}", text(&o));
    // Files and --ref together, or run arguments without --ref: a usage error.
    let o = filterbench(&["compare", "a.json", "b.json", "--ref", "HEAD"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = filterbench(&["compare", "a.json", "b.json", "--", "--quick"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(worktrees(), before);
}

#[test]
#[ignore = "builds HEAD in a worktree (2 minutes or more when the tree is new) and measures \
            both builds: run with --ignored"]
fn compare_ref_head_builds_measures_both_and_compares() {
    let head = git(&["rev-parse", "HEAD"]);
    let o = filterbench(&[
        "compare",
        "--ref",
        "HEAD",
        "--",
        "--quick",
        "--filters",
        "noop",
        "--arms",
        "native,wasmi",
        "--no-envoy",
        "--processes",
        "2",
        "--measure-ms",
        "100",
    ]);
    // The same commit: regressions are unlikely but noise is not excluded, and two processes a
    // side are most likely inconclusive (3); errors are excluded.
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{}", text(&o));
    assert!(text(&o).contains("RESULT: "), "{}", text(&o));
    let page = text(&o)
        .lines()
        .find_map(|l| l.strip_prefix("wrote "))
        .map(PathBuf::from)
        .expect("the page's path");
    let run = page.parent().unwrap();
    assert!(page.is_file() && run.join("parts/base-1.log").is_file());
    let base = filterbench_results::Results::read(&run.join("base.json")).unwrap();
    let new = filterbench_results::Results::read(&run.join("new.json")).unwrap();
    assert_eq!(base.git_commit.as_deref(), Some(head.as_str()));
    for r in [&base, &new] {
        let mut processes: Vec<u32> = r.rows.iter().map(|r| r.process).collect();
        processes.dedup();
        processes.sort();
        processes.dedup();
        assert_eq!(processes, [0, 1]);
    }
    // The worktree is kept, at HEAD, clean, and git knows it.
    let tree = run.parent().unwrap().parent().unwrap().join("tree");
    let tree_git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("-C")
            .arg(&tree)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(tree_git(&["rev-parse", "HEAD"]), head);
    assert_eq!(tree_git(&["status", "--porcelain"]), "");
    assert!(worktrees().contains(&format!("worktree {}", Path::new(&tree).display())));
}
