// A filter that does not compile: the build must show rustc's own message.

pub fn status() -> u32 {
    "not a number"
}
