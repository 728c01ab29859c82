//! End-to-end tests of sluicegate over real sockets on `127.0.0.1`, one concept per
//! file, each listed as a `[[test]]` in `Cargo.toml` (the package root is `tests/`, so
//! cargo's autodiscovery does not apply): `balancing`, `policies`, `routing`,
//! `errors`, `headers`, `identity`, `hop_rules`, `framing`, `loops`, `path_rules`, `bodies`, `keep_alive`, `drain`, `reload_listeners`, `reload_state`, `health`. The fake
//! backends and the in-process proxy come from `sluicegate-testkit`. This library is
//! empty on purpose.
