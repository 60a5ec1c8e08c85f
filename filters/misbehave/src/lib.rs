//! `misbehave`: a TEST filter (its fixtures say `"role": "test"`, so a default run skips it). It
//! adds `x-filterbench: added` to every response and forwards bodies unchanged — until the
//! VM's request number `after` has passed, when it stops doing its job in the configured way.
//! A benchmark that checks only the first request (or only "no local reply") reports it as a
//! fast, working filter; one that proves every timed request must fail it.
//!
//! Configuration: `{"mode": "behave"}`, `{"mode": "stop-header", "after": 50}` (stops adding
//! the header after the VM's 50th request) or `{"mode": "change-body", "after": 50}` (appends
//! `-changed` to every non-empty response body chunk after the 50th request). `after` is
//! required for the misbehaving modes and refused for `behave`. In `change-body` mode the
//! response's `content-length` is always removed, so a live proxy can forward the longer body.
//!
//! The failing modes (`filterbench fault`'s blast radius), each from the request after `after`
//! on: `panic` (a Rust panic: a trap in wasm, an abort natively), `loop` (never returns from
//! the request headers), `grow` (keeps 1 MiB more per request, touched, never freed) and
//! `null-write` (writes through a null pointer: SIGSEGV natively; in wasm address 0 is a valid
//! linear-memory address, so the write succeeds, no trap, and the request is answered).

use std::cell::Cell;
use std::rc::Rc;

use filterbench_filter_common::{http_root, load_config_with};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(
            |bytes| load_config_with("misbehave", bytes, Config::check),
            |config| Misbehave { config, misbehaving: false },
        )
    });
}}

const HEADER: &str = "x-filterbench";
const VALUE: &str = "added";
const SUFFIX: &[u8] = b"-changed";

thread_local! {
    /// Requests this VM has seen (a VM is single-threaded; each native instance has its own).
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
    /// What `grow` keeps: never freed while the VM lives.
    static KEPT: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Behave,
    StopHeader,
    ChangeBody,
    Panic,
    Loop,
    Grow,
    NullWrite,
}

/// What `grow` keeps per misbehaving request.
const GROW_BYTES: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    after: Option<u64>,
}

impl Config {
    fn check(self) -> Result<Self, String> {
        match (self.mode, self.after) {
            (Mode::Behave, Some(_)) => Err("`after` is only for a misbehaving mode".into()),
            (_, None) if self.mode != Mode::Behave => {
                Err("`after` is required for a misbehaving mode".into())
            }
            _ => Ok(self),
        }
    }
}

struct Misbehave {
    config: Option<Rc<Config>>,
    /// Whether this request is past `after` (decided once, at its request headers).
    misbehaving: bool,
}

impl Context for Misbehave {}

impl HttpContext for Misbehave {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let n = REQUESTS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        if let Some(config) = &self.config {
            self.misbehaving = config.after.is_some_and(|after| n > after);
            if self.misbehaving {
                fail(config.mode, n);
            }
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(config) = &self.config else {
            return Action::Continue;
        };
        if config.mode == Mode::ChangeBody {
            self.set_http_response_header("content-length", None);
        }
        if !(config.mode == Mode::StopHeader && self.misbehaving) {
            self.add_http_response_header(HEADER, VALUE);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        let change = self
            .config
            .as_ref()
            .is_some_and(|c| c.mode == Mode::ChangeBody && self.misbehaving);
        if change
            && body_size > 0
            && let Some(mut body) = self.get_http_response_body(0, body_size)
        {
            body.extend_from_slice(SUFFIX);
            self.set_http_response_body(0, body_size, &body);
        }
        Action::Continue
    }
}

/// Fails on purpose in the failing modes (the others misbehave later, in the response).
fn fail(mode: Mode, n: u64) {
    match mode {
        Mode::Panic => panic!("misbehave: panic on request {n}"),
        Mode::Loop => {
            // black_box keeps the loop from being proven endless and folded away.
            let mut i = 0u64;
            loop {
                i = std::hint::black_box(i.wrapping_add(n));
            }
        }
        // A fill that is not zero, so every page is touched (calloc'd zeros would not grow RSS).
        Mode::Grow => KEPT.with(|k| k.borrow_mut().push(vec![0xA5; GROW_BYTES])),
        Mode::NullWrite => {
            // The address comes through black_box so the compiler cannot see the null (a
            // write it can see would be folded to a trap or removed).
            let p = std::hint::black_box(0usize) as *mut u64;
            // SAFETY: none: this is the fault under test (SIGSEGV natively; in wasm it writes
            // linear-memory bytes 0..8: the bottom of the stack region, unused unless it overflows).
            unsafe { std::ptr::write_volatile(p, n) };
        }
        Mode::Behave | Mode::StopHeader | Mode::ChangeBody => {}
    }
}
