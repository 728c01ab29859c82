//! [`Config::resolutions`]: what each backend host name resolved to, for `check`'s
//! output and the log lines at start and after a reload.

use crate::Config;

impl Config {
    /// What each backend host name resolved to, a line per name and cluster:
    /// `cluster app: localhost:9001 → 127.0.0.1:9001, [::1]:9001`.
    pub fn resolutions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for cluster in &self.clusters {
            // A name's addresses are next to each other, and a name appears once per
            // cluster.
            let mut lines: Vec<(&str, Vec<String>)> = Vec::new();
            for b in &cluster.backends {
                let Some(name) = b.name.as_deref() else {
                    continue;
                };
                match lines.last_mut() {
                    Some((last, addresses)) if *last == name => {
                        addresses.push(b.address.to_string());
                    }
                    _ => lines.push((name, vec![b.address.to_string()])),
                }
            }
            for (name, addresses) in lines {
                out.push(format!(
                    "cluster {}: {name} → {}",
                    cluster.name,
                    addresses.join(", ")
                ));
            }
        }
        out
    }
}
