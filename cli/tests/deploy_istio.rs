//! `filterbench deploy istio`: for every catalogue filter, HTTP and TCP, the manifests are read
//! back as YAML and checked field by field — kinds and API versions, the WasmPlugin's URL,
//! checksum, phase, type and config, the EnvoyFilter's patch and plugin, and a ConfigMap that
//! decodes to the very module. A module over a ConfigMap's 1 MiB is refused unless published.

use std::path::Path;

use base64::Engine as _;
use filterbench_runners::catalog::{self, Filter};
use filterbench_runners::fixtures::{FilterKind, config_bytes};
use filterbench_runners::languages;
use serde_json::{Value, json};
use sha2::Digest as _;

mod common;
use common::{filterbench, text};

const LIMIT: usize = 1024 * 1024;

fn deploy(filter: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "deploy",
        "istio",
        "--filter",
        filter,
        "--out",
        out.to_str().unwrap(),
        "--namespace",
        "bench",
        "--selector",
        "app=upstream",
        "--selector",
        "version=v1",
    ];
    args.extend_from_slice(extra);
    filterbench(&args)
}

fn read(dir: &Path, file: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}\n{text}"))
}

fn expected_phase(filter: &str) -> &'static str {
    match languages::job(filter) {
        "jwt-hs256" => "AUTHN",
        "rate-limit" | "callout" | "tcp-bytes" => "AUTHZ",
        "telemetry" => "STATS",
        _ => "UNSPECIFIED_PHASE",
    }
}

fn check_metadata(doc: &Value, api: &str, kind: &str, f: &Filter) {
    assert_eq!(doc["apiVersion"], api, "{}: {doc}", f.name);
    assert_eq!(doc["kind"], kind, "{}", f.name);
    assert_eq!(doc["metadata"]["name"], format!("filterbench-{}", f.name));
    assert_eq!(doc["metadata"]["namespace"], "bench");
}

fn check_plugin(doc: &Value, f: &Filter, module: &[u8], url: &str, sha: bool) {
    check_metadata(doc, "extensions.istio.io/v1alpha1", "WasmPlugin", f);
    let spec = &doc["spec"];
    assert_eq!(
        spec["selector"]["matchLabels"],
        json!({"app": "upstream", "version": "v1"})
    );
    assert_eq!(spec["url"], url, "{}", f.name);
    let digest: String = sha2::Sha256::digest(module)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sha {
        assert_eq!(spec["sha256"], digest, "{}", f.name);
    } else {
        assert!(spec.get("sha256").is_none(), "{}: {spec}", f.name);
    }
    assert_eq!(spec["phase"], expected_phase(&f.name), "{}", f.name);
    let kind = match f.fixtures.kind {
        FilterKind::Http => "HTTP",
        FilterKind::Tcp => "NETWORK",
    };
    assert_eq!(spec["type"], kind, "{}", f.name);
    assert_eq!(spec["pluginName"], f.name.as_str());
    assert_eq!(spec["pluginConfig"], f.fixtures.config, "{}", f.name);
    assert_eq!(spec["match"], json!([{"mode": "SERVER"}]));
}

fn check_envoy_filter(doc: &Value, f: &Filter, local: &str) {
    check_metadata(doc, "networking.istio.io/v1alpha3", "EnvoyFilter", f);
    let spec = &doc["spec"];
    assert_eq!(
        spec["workloadSelector"]["labels"],
        json!({"app": "upstream", "version": "v1"})
    );
    let patches = spec["configPatches"].as_array().unwrap();
    assert_eq!(patches.len(), 1, "{}", f.name);
    let p = &patches[0];
    assert_eq!(p["match"]["context"], "SIDECAR_INBOUND");
    assert_eq!(p["patch"]["operation"], "INSERT_BEFORE");
    let chain = &p["match"]["listener"]["filterChain"]["filter"];
    let tcp = f.fixtures.kind == FilterKind::Tcp;
    let (apply_to, name, api) = if tcp {
        assert_eq!(
            chain["name"], "envoy.filters.network.tcp_proxy",
            "{}",
            f.name
        );
        assert!(chain.get("subFilter").is_none());
        (
            "NETWORK_FILTER",
            "envoy.filters.network.wasm",
            "envoy.extensions.filters.network.wasm.v3.Wasm",
        )
    } else {
        assert_eq!(
            chain["name"],
            "envoy.filters.network.http_connection_manager"
        );
        assert_eq!(chain["subFilter"]["name"], "envoy.filters.http.router");
        (
            "HTTP_FILTER",
            "envoy.filters.http.wasm",
            "envoy.extensions.filters.http.wasm.v3.Wasm",
        )
    };
    assert_eq!(p["applyTo"], apply_to, "{}", f.name);
    let value = &p["patch"]["value"];
    assert_eq!(value["name"], name, "{}", f.name);
    let tc = &value["typed_config"];
    assert_eq!(tc["@type"], format!("type.googleapis.com/{api}"));
    let c = &tc["config"];
    assert_eq!(c["root_id"], f.name.as_str());
    assert_eq!(c["vm_config"]["vm_id"], f.name.as_str());
    assert_eq!(c["vm_config"]["runtime"], "envoy.wasm.runtime.v8");
    assert_eq!(c["vm_config"]["code"]["local"]["filename"], local);
    assert_eq!(
        c["configuration"]["@type"],
        "type.googleapis.com/google.protobuf.StringValue"
    );
    let cfg = String::from_utf8(config_bytes(&f.fixtures.config)).unwrap();
    assert_eq!(c["configuration"]["value"], cfg, "{}", f.name);
}

fn check_mount(dir: &Path, f: &Filter, module: &[u8]) {
    let cm = read(dir, "configmap.yaml");
    check_metadata(&cm, "v1", "ConfigMap", f);
    let data = cm["binaryData"].as_object().unwrap();
    assert_eq!(data.len(), 1);
    let b64 = data[&format!("{}.wasm", f.name)].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert!(
        bytes == module,
        "{}: the ConfigMap is not the module",
        f.name
    );

    let patch = read(dir, "sidecar-patch.yaml");
    let ann = &patch["spec"]["template"]["metadata"]["annotations"];
    let parse = |k: &str| -> Value { serde_json::from_str(ann[k].as_str().unwrap()).unwrap() };
    let object = format!("filterbench-{}", f.name);
    assert_eq!(
        parse("sidecar.istio.io/userVolume"),
        json!([{"name": object, "configMap": {"name": object}}])
    );
    assert_eq!(
        parse("sidecar.istio.io/userVolumeMount"),
        json!([{"name": object, "mountPath": format!("/var/local/lib/wasm-filters/{}", f.name),
                "readOnly": true}])
    );
}

#[test]
fn every_http_and_tcp_filter_gets_istio_manifests() {
    let filters = catalog::discover().unwrap();
    let kinds = |k| filters.iter().filter(|f| f.fixtures.kind == k).count();
    assert!(kinds(FilterKind::Http) > 0 && kinds(FilterKind::Tcp) > 0);
    let dir = tempfile::tempdir().unwrap();
    for f in &filters {
        let module = std::fs::read(f.artifacts.wasm.as_ref().unwrap()).unwrap();
        let out = dir.path().join(&f.name);
        let o = deploy(&f.name, &out, &[]);
        let local = format!("/var/local/lib/wasm-filters/{0}/{0}.wasm", f.name);
        if module.len() > LIMIT {
            // Too big for a ConfigMap: refused with the way out, nothing written…
            assert_eq!(o.status.code(), Some(2), "{}: {}", f.name, text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("1 MiB") && err.contains("--image-url") && err.contains("--wasm-url"),
                "{}: {err}",
                f.name
            );
            assert!(!out.exists());
            // …and published, a WasmPlugin alone, fetching it.
            let url = format!("https://modules.example/{}.wasm", f.name);
            let o = deploy(&f.name, &out, &["--wasm-url", &url]);
            assert!(o.status.success(), "{}: {}", f.name, text(&o));
            assert!(text(&o).contains("no EnvoyFilter"), "{}", text(&o));
            check_plugin(&read(&out, "wasmplugin.yaml"), f, &module, &url, true);
            let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
            files.retain(|e| e.file_name() != "wasmplugin.yaml");
            assert!(files.is_empty(), "{}: {files:?}", f.name);
            continue;
        }
        assert!(o.status.success(), "{}: {}", f.name, text(&o));
        let url = format!("file://{local}");
        check_plugin(&read(&out, "wasmplugin.yaml"), f, &module, &url, true);
        check_envoy_filter(&read(&out, "envoyfilter.yaml"), f, &local);
        check_mount(&out, f, &module);
        let mode = std::fs::metadata(out.join("envoyfilter.yaml"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o644
        );
    }
}

#[test]
fn an_oci_image_is_pinned_by_its_url_and_bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = catalog::find("tcp-bytes").unwrap();
    let module = std::fs::read(f.artifacts.wasm.as_ref().unwrap()).unwrap();
    let url = "oci://registry.example/filterbench/tcp-bytes:v1";
    let out = dir.path().join("oci");
    let o = deploy("tcp-bytes", &out, &["--image-url", url]);
    assert!(o.status.success(), "{}", text(&o));
    // Istio checks an image's sha256 against the image, not the module inside: none is given.
    check_plugin(&read(&out, "wasmplugin.yaml"), &f, &module, url, false);
    // The module fits a ConfigMap: the EnvoyFilter way is written too.
    let local = "/var/local/lib/wasm-filters/tcp-bytes/tcp-bytes.wasm";
    check_envoy_filter(&read(&out, "envoyfilter.yaml"), &f, local);

    let refused = |extra: &[&str], says: &str| {
        let out = dir.path().join("refused");
        let o = deploy("tcp-bytes", &out, extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{extra:?}: {}", text(&o));
        assert!(!out.exists());
    };
    refused(
        &["--image-url", "https://x/y.wasm"],
        "--image-url wants oci://",
    );
    refused(&["--wasm-url", "oci://x/y"], "--wasm-url wants https://");
    refused(&["--selector", "app"], "--selector wants key=value");
    let o = filterbench(&["deploy", "istio", "--filter", "no-such-filter"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no-such-filter"), "{}", text(&o));
}
