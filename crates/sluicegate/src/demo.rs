//! `sluicegate demo`: three backends and the proxy in front of them, no setup needed.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;

use crate::{check, demo_backend, run};

/// The demo's config; `{port}` and `{b1}`..`{b3}` are filled in at start.
const TEMPLATE: &str = include_str!("../../../configs/demo.yaml");

/// Entry point of `demo`.
pub fn main(port: u16, admin_port: Option<u16>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo(port, admin_port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(port: u16, admin_port: Option<u16>) -> anyhow::Result<()> {
    let mut backends = Vec::new();
    for name in ["demo-1", "demo-2", "demo-3"] {
        backends.push(
            demo_backend::spawn(name)
                .await
                .context("starting a demo backend")?,
        );
    }
    let yaml = render(port, admin_port, &backends);
    let mut file = tempfile::Builder::new()
        .prefix("sluicegate-demo-")
        .suffix(".yaml")
        .tempfile()
        .context("creating the demo config file")?;
    file.write_all(yaml.as_bytes())
        .context("writing the demo config file")?;
    let path = file.path().to_path_buf();
    let config = match check::load(&path) {
        Ok(config) => config,
        Err(error) => {
            let _ = check::report(&path, &error);
            anyhow::bail!("the embedded demo config is invalid");
        }
    };
    let workers = sluicegate_listener::Workers::current();
    let mut running = run::start(&config, &path, workers, Default::default()).await?;
    running.announce(&config, false);
    let addr = running
        .local_addr("demo")
        .context("the demo listener is missing")?;
    print_welcome(&path, addr, running.admin_addr(), &backends);
    let _ = running.serve().await;
    Ok(())
}

fn render(port: u16, admin_port: Option<u16>, backends: &[SocketAddr]) -> String {
    let mut yaml = TEMPLATE.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    // With `--port 0` any free port: the demo may run beside a real sluicegate.
    let admin = admin_port.unwrap_or(if port == 0 { 0 } else { 9901 });
    yaml = yaml.replace("127.0.0.1:9901", &format!("127.0.0.1:{admin}"));
    for (i, addr) in backends.iter().enumerate() {
        yaml = yaml.replace(&format!("127.0.0.1:900{}", i + 1), &addr.to_string());
    }
    yaml
}

fn print_welcome(
    path: &std::path::Path,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    backends: &[SocketAddr],
) {
    let list: Vec<String> = backends.iter().map(ToString::to_string).collect();
    println!("sluicegate demo");
    println!(
        "  config:   {} (edit it: changes apply live, a bad save is rejected and logged)",
        path.display()
    );
    println!("  backends: demo-1..3 on {}", list.join(", "));
    println!("  proxy:    listening on http://{addr}");
    if let Some(admin) = admin {
        println!("  admin:    http://{admin}/ (status page), /metrics, /status");
    }
    println!();
    println!("Try:");
    println!("  curl -s http://{addr}/                     # round-robin, weights 2:1:1");
    println!("  curl -s http://{addr}/slow?ms=1500          # answers after 1.5 s");
    println!(
        "  curl -s http://{addr}/slow?ms=3000          # 504: the demo's response_timeout is 2s"
    );
    println!(
        "  curl -si http://{addr}/status/503           # a backend's own status passes through"
    );
    println!(
        "  curl -si -H 'Host: api.example.com' http://{addr}/v1/users   # routed to cluster api"
    );
    println!();
    println!("Ctrl-C stops everything.");
    let _ = std::io::stdout().flush();
}
