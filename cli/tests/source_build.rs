//! `filterbench build`: a user's filter from source. A Rust crate written for the proxy-wasm
//! Rust SDK alone (cli/tests/data/rust-add-header, as the SDK's examples are) builds to wasm and
//! natively; a crate that does not compile, one not on the SDK, a source of no known language
//! and an empty Go module each get their own clear error.

use std::path::{Path, PathBuf};

mod common;
use common::{filterbench, text, user_crate};

/// `filterbench build <source> --out <out>`: the output and, on success, the artifact path
/// printed after `label`.
fn build(source: &Path, out: &Path) -> std::process::Output {
    filterbench(&[
        "build",
        source.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn printed(o: &std::process::Output, label: &str) -> PathBuf {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line: {}", text(o)));
    PathBuf::from(line.trim())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_users_rust_crate_builds_to_wasm_and_natively() {
    let dir = tempfile::tempdir().unwrap();
    let source = user_crate(dir.path(), "rust-add-header");
    let out = dir.path().join("out");
    let o = build(&source, &out);
    assert!(o.status.success(), "{}", text(&o));
    let wasm = printed(&o, "wasm:");
    let native = printed(&o, "native:");
    assert!(
        wasm.starts_with(&out) && native.starts_with(&out),
        "{}",
        text(&o)
    );
    let wasm = std::fs::read(&wasm).unwrap();
    assert!(wasm.starts_with(b"\0asm"));
    assert!(contains(&wasm, b"proxy_abi_version_0_2_1"));
    // The shim's entry point, which the native arm calls first, is in the dynamic symbols.
    let native = std::fs::read(&native).unwrap();
    assert!(contains(&native, b"filterbench_native_init"));
}

#[test]
fn a_crate_that_does_not_compile_shows_the_compilers_message() {
    let dir = tempfile::tempdir().unwrap();
    let source = user_crate(dir.path(), "rust-broken");
    let o = build(&source, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Rust build of"), "{err}");
    // rustc's own words, with where.
    assert!(err.contains("error[E0308]: mismatched types"), "{err}");
    assert!(err.contains("src/lib.rs:4"), "{err}");
    assert!(!err.contains("Compiling "), "{err}");
}

#[test]
fn a_crate_not_on_the_sdk_is_refused_for_its_abi() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("plain");
    std::fs::create_dir_all(source.join("src")).unwrap();
    std::fs::write(
        source.join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n",
    )
    .unwrap();
    std::fs::write(
        source.join("src/lib.rs"),
        "#[no_mangle]\npub extern \"C\" fn answer() -> u32 {\n    42\n}\n",
    )
    .unwrap();
    let o = build(&source, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not speak proxy-wasm ABI 0.2.1"), "{err}");
    assert!(err.contains("no proxy_abi_version_* marker"), "{err}");
}

#[test]
fn a_source_of_no_known_language_is_named_and_a_go_error_is_gos() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "a filter, some day").unwrap();
    let o = build(dir.path(), &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot tell the language of"),
        "{}",
        text(&o)
    );
    std::fs::write(dir.path().join("go.mod"), "module example.com/filter\n").unwrap();
    let o = build(dir.path(), &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Go's own words for a module without a package.
    let t = text(&o);
    assert!(
        t.contains("Go build of") && t.contains("no Go files"),
        "{t}"
    );
}
