//! The protocol a live-Envoy figure was measured over. Arms keep their names whatever the
//! protocol; a figure over h2c (HTTP/2 with prior knowledge, generator to Envoy and Envoy to
//! upstream) is recorded under its scenario's name with [`H2C_SUFFIX`], as `load` and `run`
//! both do, so every comparison between variants (÷ envoy-none, ÷ the native module) stays
//! within one protocol and HTTP/1.1 figures keep the names they always had.

/// What an h2c scenario's name adds to the HTTP/1.1 one (before any rate suffix: `get+h2c`,
/// `get+h2c@50%`, `get+h2c@500rps`).
pub const H2C_SUFFIX: &str = "+h2c";

/// The scenario name a figure of `scenario` is recorded under: as it is over HTTP/1.1, with
/// [`H2C_SUFFIX`] over h2c.
pub fn scenario(scenario: &str, h2c: bool) -> String {
    if h2c {
        format!("{scenario}{H2C_SUFFIX}")
    } else {
        scenario.to_string()
    }
}

/// A recorded scenario name taken apart: the HTTP/1.1 name it pairs with, and whether it was
/// measured over h2c.
pub fn split(recorded: &str) -> (String, bool) {
    match recorded.find(H2C_SUFFIX) {
        Some(i) => {
            let rest = &recorded[i + H2C_SUFFIX.len()..];
            // Only a whole suffix: `get+h2cx` is some other scenario's name.
            if rest.is_empty() || rest.starts_with('@') {
                (format!("{}{rest}", &recorded[..i]), true)
            } else {
                (recorded.to_string(), false)
            }
        }
        None => (recorded.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compose_and_split_back() {
        assert_eq!(scenario("get", false), "get");
        assert_eq!(split(&scenario("get", true)), ("get".into(), true));
        assert_eq!(split("get"), ("get".into(), false));
        assert_eq!(split("get+h2c@50%"), ("get@50%".into(), true));
        assert_eq!(split("get+h2c@500rps"), ("get@500rps".into(), true));
        assert_eq!(split("get+h2cx"), ("get+h2cx".into(), false));
    }
}
