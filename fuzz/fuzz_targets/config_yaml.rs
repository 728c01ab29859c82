//! The YAML loader on arbitrary text: it answers (never panics), and a config it
//! accepts prints back to an equal one. Environment variables and host names come from
//! fixed tables: nothing is looked up on the machine.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};

use sluicegate_config::{parse_with, to_yaml};

fn env(name: &str) -> Option<String> {
    (name == "SG_PORT").then(|| "9001".to_owned())
}

fn resolver(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match host {
        "localhost" => Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))]),
        _ => Err("no such host".into()),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mut config) = parse_with(text, &env, &resolver) {
        let printed = to_yaml(&config).expect("an accepted config prints");
        let mut again = parse_with(&printed, &env, &resolver).expect("its print parses");
        for c in config.clusters.iter_mut().chain(again.clusters.iter_mut()) {
            for b in &mut c.backends {
                b.name = None;
            }
        }
        assert_eq!(config, again, "printed as:\n{printed}");
    }
});
