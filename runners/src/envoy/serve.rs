//! Envoy variants of a filter stood up for another process to load (`filterbench __serve`):
//! our upstream (over HTTP/1.1 or h2c) and one Envoy per variant listening on `listen`, each
//! proven against the in-process native arm before it is announced. The cross-host tests run
//! it in one network namespace and `load --target` in another.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::http::{RequestTemplate, Upstream};
use super::process::Envoy;
use super::protocol::{self, Protocol};
use super::remote::{self, RemoteError};
use super::{config, prove};
use crate::measure::scenario::Workload;

/// The upstream and the proven Envoys (variant name, Envoy); all stop when dropped.
pub struct Served {
    pub envoys: Vec<(&'static str, Envoy)>,
    pub upstream: Upstream,
}

impl Served {
    /// Each variant's listener.
    pub fn listeners(&self) -> Vec<(&'static str, SocketAddr)> {
        self.envoys.iter().map(|(n, e)| (*n, e.listener)).collect()
    }
}

/// Starts `variants` (names, each one the filter must have) of `filter`'s first HTTP scenario,
/// configs and logs under `dir`.
pub fn serve(
    bin: &Path,
    filter: &str,
    variants: &[String],
    protocol: Protocol,
    listen: IpAddr,
    dir: &Path,
) -> Result<Served, RemoteError> {
    let err = |why: String| RemoteError::Filter {
        filter: filter.to_string(),
        why,
    };
    let sc = remote::scenario(filter, None)?;
    let Workload::Http(ex) = &sc.workload else {
        return Err(err("not an HTTP scenario".into()));
    };
    let want = super::verify::native_reference(&sc).map_err(err)?;
    let upstream =
        Upstream::start_with(&ex.response, protocol).map_err(|e| err(format!("upstream: {e}")))?;
    let req = RequestTemplate::from_message(&ex.request);
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    let mut envoys = Vec::new();
    for wanted in variants {
        let v = remote::variant_of(&sc, wanted)?;
        let name = format!("{filter}.{}.{}", v.name, protocol.name());
        let mut bootstrap = config::bootstrap(&v, upstream.port);
        bootstrap["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] =
            listen.to_string().into();
        protocol::for_protocol(&mut bootstrap, protocol);
        let path = dir.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&bootstrap).expect("json");
        std::fs::write(&path, text).map_err(|e| err(e.to_string()))?;
        let envoy = Envoy::start(bin, &path, 1, dir, &name).map_err(|e| err(e.to_string()))?;
        let proven = prove(envoy, &sc, &v, &upstream, &req, &want)
            .map_err(|(_, why)| err(format!("{}: {why}", v.name)))?;
        envoys.push((v.name, proven.envoy));
    }
    Ok(Served { envoys, upstream })
}
