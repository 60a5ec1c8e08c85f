//! What the live-Envoy tests of this crate share.

use std::path::PathBuf;

use filterbench_runners::envoy;

/// The Envoy binary, or None when the Envoy tests are skipped on purpose
/// (`FILTERBENCH_SKIP_ENVOY=1`). `scripts/setup.sh` installs Envoy everywhere: missing, the
/// test fails rather than passing without having run.
pub fn envoy_bin() -> Option<PathBuf> {
    match envoy::process::find(None) {
        Ok(b) => Some(b),
        Err(e) if std::env::var("FILTERBENCH_SKIP_ENVOY").as_deref() == Ok("1") => {
            eprintln!("skipping (FILTERBENCH_SKIP_ENVOY=1): {e}");
            None
        }
        Err(e) => panic!("{e}; set FILTERBENCH_SKIP_ENVOY=1 to skip the Envoy tests"),
    }
}
