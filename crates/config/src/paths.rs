//! Relative file paths in a config (certificate, key and CA files, the upgrade
//! socket) are relative to the
//! directory of the config file, as nginx's are to its configuration prefix: a config
//! moved with its `certs/` directory keeps working whatever the working directory.

use std::path::{Path, PathBuf};

use crate::discovery_spec::{EtcdSpec, SourceSpec};
use crate::spec::Config;

impl Config {
    /// Makes every relative file path in the config relative to `dir` (the config
    /// file's directory). Absolute paths are kept. Reads nothing.
    pub fn rebase(&mut self, dir: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for listener in &mut self.listeners {
            if let Some(tls) = &mut listener.tls {
                for pair in &mut tls.certificates {
                    join(&mut pair.cert);
                    join(&mut pair.key);
                }
            }
        }
        if let Some(socket) = &mut self.admin.upgrade_socket {
            join(socket);
        }
        for cluster in &mut self.clusters {
            if let Some(ca) = cluster.tls.as_mut().and_then(|t| t.ca.as_mut()) {
                join(ca);
            }
            let source = cluster.discovery.as_mut().map(|d| &mut d.source);
            if let Some(SourceSpec::Etcd(EtcdSpec { tls: Some(tls), .. })) = source {
                tls.ca.iter_mut().for_each(join);
                if let Some((cert, key)) = &mut tls.identity {
                    join(cert);
                    join(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    #[test]
    fn relative_paths_follow_the_config_and_absolute_ones_stay() {
        let yaml = "listeners:\n  s:\n    address: 127.0.0.1:0\n    tls:\n      certificates:\n        \
                    - { cert: certs/a.pem, key: /abs/a.key }\n    routes: [{ cluster: c }]\n\
                    clusters:\n  c:\n    backends: [{ address: 127.0.0.1:1 }]\n\
                    admin:\n  upgrade_socket: run/upgrade.sock\n";
        let mut config = crate::parse(yaml).unwrap();
        config.rebase(Path::new("/etc/sg"));
        let tls = config.listeners[0].tls.as_ref().unwrap();
        assert_eq!(tls.certificates[0].cert, Path::new("/etc/sg/certs/a.pem"));
        assert_eq!(tls.certificates[0].key, Path::new("/abs/a.key"));
        let socket = config.admin.upgrade_socket.as_deref().unwrap();
        assert_eq!(socket, Path::new("/etc/sg/run/upgrade.sock"));
    }
}
