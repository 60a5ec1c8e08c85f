//! Live reload of a filter in a running Envoy through extension-config discovery.
