//! Reach (phase `reach`): the accesses the probe filter (`filters/reach`) attempts, one per
//! request, each the scenario of its `reach_refused` row. The probe selects them by these very
//! words (its `x-reach` request header).

/// Reads the environment: the native build through std, the wasm build over WASI
/// `environ_get`; the harness plants a canary variable and looks for its value.
pub const ENV: &str = "env";
/// Opens a canary file the harness wrote (wasm: std::fs, then WASI preopened directories).
pub const FILE: &str = "file";
/// Switches to another live stream's context (`proxy_set_effective_context`) and reads its
/// request headers: a secret the harness gave the other stream.
pub const OTHER_STREAM: &str = "other-stream";
/// The control: a property every host exposes (`request.path`); refused here means the probe
/// itself is broken.
pub const PROPERTY_ALLOWED: &str = "property";
/// A property outside the exposed set (`environment.<canary variable>`).
pub const PROPERTY_OUTSIDE: &str = "property-outside";
/// Writes outside its own memory: wasm past the end of linear memory; native into a buffer
/// of the host process that the harness reads back.
pub const OOB_WRITE: &str = "oob-write";
/// Connects to a listener of the harness on 127.0.0.1.
pub const SOCKET: &str = "socket";

/// Every access, in table order.
pub const ALL: [&str; 7] = [
    ENV,
    FILE,
    OTHER_STREAM,
    PROPERTY_ALLOWED,
    PROPERTY_OUTSIDE,
    OOB_WRITE,
    SOCKET,
];

/// The request the probe parks (pauses) so `other-stream` has a live stream to switch to; a
/// helper, not an access.
pub const PARK: &str = "park";

/// The probe filter's name in the catalogue.
pub const PROBE_FILTER: &str = "reach";
