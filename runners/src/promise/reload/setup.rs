//! The Envoy side of a reload: a bootstrap whose HTTP filter comes through extension-config
//! discovery (ECDS) from a watched file, and the versions written there — each a new module
//! file (a stamped copy of the `.wasm`, a fresh copy of the dynamic module) with its own
//! header value, so a response names the version that made it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The name Envoy knows the discovered filter by (and the resource's name in the file).
pub const FILTER_NAME: &str = "filterbench-reload";

const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const MODULE_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";

/// How the filter is built into Envoy.
#[derive(Clone, Debug)]
pub enum Code {
    /// Our `.wasm` builds under V8: each version is one of them (alternating when there are
    /// two, e.g. wasm32-unknown-unknown and wasm32-wasip1), stamped with the version.
    Wasm(Vec<PathBuf>),
    /// The same `.wasm` file for every version, only its configuration changing (the weaker
    /// case: Envoy may keep the VM and start a new plugin in it).
    WasmConfig(PathBuf),
    /// The dynamic module and the filter's native library: each version a fresh copy of both.
    Module { module: PathBuf, library: PathBuf },
}

impl Code {
    fn type_url(&self) -> &'static str {
        match self {
            Code::Wasm(_) | Code::WasmConfig(_) => WASM_TYPE,
            Code::Module { .. } => MODULE_TYPE,
        }
    }
}

/// Where the versions go: the watched folder and the resource file in it.
pub struct Watched {
    pub dir: PathBuf,
    pub file: PathBuf,
    /// Where each version's module files are written (outside the watched folder).
    pub code_dir: PathBuf,
}

impl Watched {
    pub fn new(root: &Path) -> std::io::Result<Watched> {
        let dir = root.join("ecds");
        let code_dir = root.join("versions");
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(&code_dir)?;
        Ok(Watched {
            file: dir.join("filter.json"),
            dir,
            code_dir,
        })
    }
}

/// A bootstrap: the discovered filter (no default: Envoy waits for the file's version before
/// its listener serves), the router, and a cluster to the in-suite upstream.
pub fn bootstrap(code: &Code, watched: &Watched, upstream_port: u16) -> Value {
    let discovered = json!({"name": FILTER_NAME, "config_discovery": {
        "config_source": {"resource_api_version": "V3", "path_config_source": {
            "path": watched.file.display().to_string(),
            "watched_directory": {"path": watched.dir.display().to_string()}}},
        "type_urls": [code.type_url()]}});
    let router = json!({"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        "suppress_envoy_headers": true}});
    json!({
        // A discovered resource needs a node identity, even from a file.
        "node": {"id": "filterbench", "cluster": "filterbench"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{"name": "main",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "generate_request_id": false,
                        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "10s"}}]}]},
                        "http_filters": [discovered, router]}}]}]}],
            "clusters": [{"name": "upstream", "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}}}]}]}}]
        }
    })
}

/// One version written: the module file Envoy is told to load (for the native module, the
/// file whose mappings show whether an old version went away).
pub struct Written {
    pub module: PathBuf,
}

/// Writes version `n` of the filter (its configuration `config`, a JSON object) as Envoy's
/// resource file: module files first, then the resource through a temporary file renamed into
/// the watched folder (Envoy reacts to the move; a file written in place could be read half
/// done). Returns just before the rename, so the caller's clock starts at the write.
pub fn write_version(
    code: &Code,
    watched: &Watched,
    filter: &str,
    n: u32,
    config: &str,
    before_rename: impl FnOnce(),
) -> std::io::Result<Written> {
    let wasm = |to: &Path| {
        json!({"@type": WASM_TYPE, "config": {
        "name": filter, "root_id": filter, "fail_open": false,
        "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config},
        "vm_config": {"vm_id": filter, "runtime": "envoy.wasm.runtime.v8",
                      "code": {"local": {"filename": to.display().to_string()}}}}})
    };
    let (module, typed) = match code {
        Code::Wasm(builds) => {
            let from = &builds[n as usize % builds.len()];
            let to = watched.code_dir.join(format!("{filter}-v{n}.wasm"));
            let mut bytes = std::fs::read(from)?;
            stamp(&mut bytes, n);
            std::fs::write(&to, &bytes)?;
            let typed = wasm(&to);
            (to, typed)
        }
        Code::WasmConfig(file) => (file.clone(), wasm(file)),
        Code::Module { module, library } => {
            let m = watched.code_dir.join(format!("module-v{n}.so"));
            let l = watched.code_dir.join(format!("library-v{n}.so"));
            std::fs::copy(module, &m)?;
            std::fs::copy(library, &l)?;
            let typed = json!({"@type": MODULE_TYPE,
                "dynamic_module_config": {"module": {"local": {"filename": m.display().to_string()}}},
                "filter_name": filter,
                "filter_config": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": format!("{}\n{config}", l.display())}});
            (m, typed)
        }
    };
    let resource = json!({"version_info": n.to_string(), "resources": [{
        "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
        "name": FILTER_NAME, "typed_config": typed}]});
    let tmp = watched.code_dir.join("filter.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&resource).expect("json"))?;
    before_rename();
    std::fs::rename(&tmp, &watched.file)?;
    Ok(Written { module })
}

/// Appends a custom section naming version `n`: a new module file (a new code hash, so a new
/// VM in Envoy) with the same code.
fn stamp(wasm: &mut Vec<u8>, n: u32) {
    let name = b"filterbench-reload";
    let payload = n.to_le_bytes();
    let mut body = Vec::new();
    leb(&mut body, name.len() as u32);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    wasm.push(0);
    leb(wasm, body.len() as u32);
    wasm.extend_from_slice(&body);
}

fn leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Mappings of `file` in process `pid` (a shared library still loaded).
pub fn mappings(pid: u32, file: &Path) -> std::io::Result<u64> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let name = file.display().to_string();
    Ok(maps
        .lines()
        .filter(|l| l.split_whitespace().nth(5) == Some(name.as_str()))
        .count() as u64)
}

/// The file-name prefix of the private copy the native-module shim loads the filter's library
/// from (native-baseline/envoy-module's vm.rs): deleted once loaded, so the filter's code is
/// visible in the maps only under this name, never as the `library-v{n}.so` we wrote.
const PRIVATE_COPY_PREFIX: &str = "filterbench-envoy-module-";

/// The private copies of a filter library mapped in process `pid`, each once (by device,
/// inode and path: a copy has several mappings, one per segment).
pub fn private_copies(pid: u32) -> std::io::Result<BTreeSet<String>> {
    Ok(copies_in(&std::fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

/// The private copies named in `maps` (the text of /proc/pid/maps).
fn copies_in(maps: &str) -> BTreeSet<String> {
    maps.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // address perms offset dev inode path…; a deleted file's path ends " (deleted)".
            let path = f.get(5..)?.join(" ");
            let name = Path::new(path.trim_end_matches(" (deleted)")).file_name()?;
            let name = name.to_str()?;
            (name.starts_with(PRIVATE_COPY_PREFIX) && name.ends_with(".so"))
                .then(|| format!("{} {} {path}", f[3], f[4]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_copies_are_counted_once_each_deleted_or_not_and_nothing_else() {
        let maps = "\
7f00-7f01 r--p 00000000 08:01 11 /tmp/filterbench-envoy-module-aB3.so (deleted)
7f01-7f02 r-xp 00001000 08:01 11 /tmp/filterbench-envoy-module-aB3.so (deleted)
7f02-7f03 r--p 00000000 08:01 12 /tmp/filterbench-envoy-module-Zz9.so (deleted)
7f03-7f04 r--p 00000000 08:01 13 /tmp/filterbench-envoy-module-Qq1.so
7f04-7f05 r--p 00000000 08:01 14 /work/versions/library-v1.so
7f05-7f06 r--p 00000000 08:01 15 /work/versions/module-v1.so
7f06-7f07 rw-p 00000000 00:00 0 
7f07-7f08 r--p 00000000 08:01 16 /tmp/filterbench-envoy-module-x.so.lock
";
        let c = copies_in(maps);
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(c.iter().all(|k| k.contains(PRIVATE_COPY_PREFIX)), "{c:?}");
    }

    #[test]
    fn a_stamped_module_stays_valid_and_differs_per_version() {
        let module = wat_free_module();
        let (mut a, mut b) = (module.clone(), module.clone());
        stamp(&mut a, 1);
        stamp(&mut b, 2);
        assert_ne!(a, b);
        assert!(a.starts_with(&module));
        // The section: id 0, its size, then the name's length and the name.
        let tail = &a[module.len()..];
        assert_eq!(tail[0], 0);
        assert_eq!(tail[1] as usize, tail.len() - 2);
        assert_eq!(tail[2] as usize, b"filterbench-reload".len());
        let mut big = Vec::new();
        leb(&mut big, 300);
        assert_eq!(big, vec![0xac, 0x02]);
    }

    /// The smallest module: magic and version.
    fn wat_free_module() -> Vec<u8> {
        vec![0, b'a', b's', b'm', 1, 0, 0, 0]
    }
}
