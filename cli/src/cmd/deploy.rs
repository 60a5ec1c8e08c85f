//! `filterbench deploy istio`: what a mesh needs to run the same `.wasm` we measure — a
//! WasmPlugin and, the older way, an EnvoyFilter loading the module from a ConfigMap mounted
//! into the sidecar. Each document is built as JSON and written as YAML.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use filterbench_runners::fixtures::{FilterKind, config_bytes};
use filterbench_runners::{catalog, languages};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(clap::Subcommand)]
enum Target {
    /// Istio manifests for one filter: WasmPlugin, EnvoyFilter + ConfigMap + sidecar patch.
    Istio(IstioArgs),
}

#[derive(clap::Args)]
pub struct IstioArgs {
    /// The catalogue filter (`filterbench list`).
    #[arg(long)]
    filter: String,
    /// Folder for the manifests (default: filterbench-istio/<filter>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Namespace of the workload the filter runs in.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Label of the workload's pods, `key=value`; repeat for more labels.
    #[arg(long = "selector", default_value = "app=filterbench")]
    selector: Vec<String>,
    /// The module published as an OCI image: the WasmPlugin pulls it from there.
    #[arg(long, conflicts_with = "wasm_url")]
    image_url: Option<String>,
    /// The module published at an http(s) URL: the WasmPlugin fetches it from there.
    #[arg(long)]
    wasm_url: Option<String>,
}

/// Kubernetes refuses a ConfigMap whose data passes 1 MiB.
pub const CONFIGMAP_LIMIT: usize = 1024 * 1024;

/// Where the ConfigMap is mounted in the sidecar (a folder per filter).
pub const MOUNT_ROOT: &str = "/var/local/lib/wasm-filters";

/// The manifests of one filter, as files to write: (file name, YAML text).
pub struct Manifests {
    pub files: Vec<(&'static str, String)>,
    /// Why a manifest was left out, to say so.
    pub notes: Vec<String>,
}

/// The WasmPlugin phase of a job (where Istio places it in the chain), and why.
pub fn phase(job: &str) -> (&'static str, &'static str) {
    match job {
        "jwt-hs256" => (
            "AUTHN",
            "it validates a bearer token and forwards its subject: authentication, which must \
             run before any authorization",
        ),
        "rate-limit" | "callout" => (
            "AUTHZ",
            "it admits or refuses each request (429 / a callout's verdict): an authorization \
             decision, taken before stats count the request",
        ),
        "tcp-bytes" => (
            "AUTHZ",
            "it closes a connection that carries a forbidden token: a policy decision, taken \
             where Istio's own network RBAC runs",
        ),
        "telemetry" => (
            "STATS",
            "it only counts and records: the stats phase, beside Istio's own metrics",
        ),
        _ => (
            "UNSPECIFIED_PHASE",
            "it transforms traffic (or, as a probe, does nothing): last in the chain, just \
             before the router — where filterbench's own Envoy configurations put it",
        ),
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let Target::Istio(a) = args.target;
    let mut found = super::select_filters(std::slice::from_ref(&a.filter))?;
    if found.len() != 1 {
        bail!(
            "--filter names one filter; `{}` matches {}",
            a.filter,
            found.len()
        );
    }
    let filter = found.remove(0);
    let wasm = filter
        .artifacts
        .wasm
        .clone()
        .context("the filter has no .wasm build")?;
    let module = std::fs::read(&wasm)
        .with_context(|| format!("reading {} (build it: scripts/build.sh)", wasm.display()))?;
    let selector = parse_selector(&a.selector)?;
    let remote = remote_url(a.image_url.as_deref(), a.wasm_url.as_deref())?;
    let m = istio(&filter, &module, &a.namespace, &selector, remote.as_deref())?;
    let out = a
        .out
        .unwrap_or_else(|| Path::new("filterbench-istio").join(&filter.name));
    for (name, text) in &m.files {
        let path = out.join(name);
        // The module itself is read, never written.
        if super::atomic::same_file(&path, &wasm) {
            bail!(
                "{} is the module itself; choose another --out",
                path.display()
            );
        }
        super::atomic::write(&path, text.as_bytes())?;
        // Manifests are for kubectl and reviewers, not secrets: the temporary file's 0600 is
        // widened to a plain file's mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    for n in &m.notes {
        eprintln!("note: {n}");
    }
    print_next_steps(&out, &m, &a.namespace);
    Ok(ExitCode::SUCCESS)
}

fn print_next_steps(out: &Path, m: &Manifests, ns: &str) {
    let d = out.display();
    println!("\nnext:");
    if m.files.iter().any(|(n, _)| *n == "envoyfilter.yaml") {
        // Client-side apply copies the object into an annotation limited to 256 KiB.
        println!("  kubectl apply --server-side -f {d}/configmap.yaml");
        println!(
            "  kubectl -n {ns} patch deployment <workload> --patch-file {d}/sidecar-patch.yaml"
        );
    }
    println!("  kubectl apply -f {d}/wasmplugin.yaml");
    if m.files.len() > 1 {
        println!(
            "  or, not both (the filter would run twice): kubectl apply -f {d}/envoyfilter.yaml"
        );
    }
    println!("then measure: filterbench load --target http://<the workload's address>/");
}

/// `key=value` labels as a map.
fn parse_selector(labels: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for l in labels {
        match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.insert(k.to_string(), v.into()),
            _ => bail!("--selector wants key=value, not `{l}`"),
        };
    }
    Ok(out)
}

fn remote_url(image: Option<&str>, wasm: Option<&str>) -> Result<Option<String>> {
    match (image, wasm) {
        (Some(u), _) if !u.starts_with("oci://") => bail!("--image-url wants oci://…, not `{u}`"),
        (_, Some(u)) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            bail!("--wasm-url wants https://… (or http://…), not `{u}`")
        }
        (i, w) => Ok(i.or(w).map(str::to_string)),
    }
}

fn yaml(header: &str, doc: &Value) -> Result<String> {
    let body = serde_norway::to_string(doc).context("writing YAML")?;
    Ok(format!("{header}{body}"))
}

/// The manifests for `filter` with its module `module`. `remote`: the module's oci:// or
/// http(s):// URL for the WasmPlugin (None: the mounted ConfigMap, by file://).
pub fn istio(
    filter: &catalog::Filter,
    module: &[u8],
    namespace: &str,
    selector: &Map<String, Value>,
    remote: Option<&str>,
) -> Result<Manifests> {
    let name = &filter.name;
    let config = &filter.fixtures.config;
    // pluginConfig is a google.protobuf.Struct: only an object fits it.
    if !config.is_object() {
        bail!(
            "{name}'s configuration is not a JSON object ({config}); a WasmPlugin's \
             pluginConfig is a protobuf Struct and cannot hold it"
        );
    }
    let fits = module.len() <= CONFIGMAP_LIMIT;
    if !fits && remote.is_none() {
        bail!(
            "{name}'s module is {:.1} MiB, over the 1 MiB a ConfigMap holds: publish it and \
             pass --image-url oci://… or --wasm-url https://…",
            module.len() as f64 / (1024.0 * 1024.0)
        );
    }
    let object = format!("filterbench-{name}");
    let metadata = json!({"name": object, "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "filterbench", "filterbench/filter": name}});
    let file = format!("{name}.wasm");
    let mount = format!("{MOUNT_ROOT}/{name}");
    let local = format!("{mount}/{file}");
    let sha256 = hex(&sha2::Sha256::digest(module));
    let tcp = filter.fixtures.kind == FilterKind::Tcp;
    let (phase, why) = phase(languages::job(name));
    let generated = format!("# filterbench deploy istio --filter {name}\n");

    let mut spec = json!({
        "selector": {"matchLabels": selector},
        "url": remote.map_or_else(|| format!("file://{local}"), str::to_string),
        "phase": phase,
        "pluginName": name,
        "type": if tcp { "NETWORK" } else { "HTTP" },
        "failStrategy": "FAIL_CLOSE",
        // Inbound only, as the EnvoyFilter (SIDECAR_INBOUND) and our own Envoy's listener.
        "match": [{"mode": "SERVER"}],
        "pluginConfig": config,
    });
    // For an OCI image Istio checks sha256 against the image, not the module: pin the image
    // by digest in the URL instead.
    if !remote.is_some_and(|u| u.starts_with("oci://")) {
        spec["sha256"] = sha256.into();
    }
    let plugin = json!({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": metadata, "spec": spec});
    let mut files = vec![(
        "wasmplugin.yaml",
        yaml(&format!("{generated}# phase {phase}: {why}\n"), &plugin)?,
    )];
    let mut notes = Vec::new();
    if !fits {
        notes.push(format!(
            "no EnvoyFilter: it loads the module from a mounted ConfigMap, and {name}'s module \
             is over the 1 MiB a ConfigMap holds"
        ));
        return Ok(Manifests { files, notes });
    }

    let configuration = String::from_utf8_lossy(&config_bytes(config)).into_owned();
    let (api, filter_name, anchor, apply_to) = if tcp {
        (
            "envoy.extensions.filters.network.wasm.v3.Wasm",
            "envoy.filters.network.wasm",
            json!({"filter": {"name": "envoy.filters.network.tcp_proxy"}}),
            "NETWORK_FILTER",
        )
    } else {
        (
            "envoy.extensions.filters.http.wasm.v3.Wasm",
            "envoy.filters.http.wasm",
            json!({"filter": {"name": "envoy.filters.network.http_connection_manager",
                              "subFilter": {"name": "envoy.filters.http.router"}}}),
            "HTTP_FILTER",
        )
    };
    // The same plugin our envoy-wasm-v8 arm loads (runners/src/envoy/config.rs), from the mount.
    let wasm = json!({"name": filter_name, "typed_config": {
        "@type": format!("type.googleapis.com/{api}"),
        "config": {
            "name": name, "root_id": name, "fail_open": false,
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": configuration},
            "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8",
                          "code": {"local": {"filename": local}}}}}});
    let envoy_filter = json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": metadata,
        "spec": {"workloadSelector": {"labels": selector}, "configPatches": [{
            "applyTo": apply_to,
            "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": anchor}},
            "patch": {"operation": "INSERT_BEFORE", "value": wasm}}]}});
    files.push((
        "envoyfilter.yaml",
        yaml(
            &format!(
                "{generated}# Loads {local}: apply configmap.yaml and sidecar-patch.yaml first.\n"
            ),
            &envoy_filter,
        )?,
    ));

    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
        "binaryData": {file.clone(): base64::engine::general_purpose::STANDARD.encode(module)}});
    files.push((
        "configmap.yaml",
        yaml(
            &format!(
                "{generated}# Apply with --server-side: a client-side apply copies it into an \
                 annotation, limited to 256 KiB.\n"
            ),
            &configmap,
        )?,
    ));

    // Istio's injector reads these pod annotations (JSON lists) to add the volume and its
    // mount to the istio-proxy container.
    let volume = json!([{"name": object, "configMap": {"name": object}}]);
    let volume_mount = json!([{"name": object, "mountPath": mount, "readOnly": true}]);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "sidecar.istio.io/userVolume": volume.to_string(),
        "sidecar.istio.io/userVolumeMount": volume_mount.to_string()}}}}});
    files.push((
        "sidecar-patch.yaml",
        yaml(
            &format!(
                "{generated}# kubectl -n {namespace} patch deployment <workload> --patch-file \
                 sidecar-patch.yaml\n# mounts ConfigMap {object} at {mount} in the sidecar.\n"
            ),
            &patch,
        )?,
    ));
    Ok(Manifests { files, notes })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
