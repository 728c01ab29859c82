//! Build facts for `--version` and `sluicegate_build_info`: the git commit of the
//! source (`unknown` outside a git checkout) and the compiler's version.

use std::process::Command;

fn main() {
    let commit = output(Command::new("git").args(["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc =
        output(Command::new(rustc).arg("--version")).unwrap_or_else(|| "rustc unknown".to_owned());
    println!("cargo:rustc-env=SLUICEGATE_COMMIT={commit}");
    println!("cargo:rustc-env=SLUICEGATE_RUSTC={rustc}");
    // A new commit changes HEAD or the branch it points to.
    for path in ["../../.git/HEAD", "../../.git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// The command's first output line, if it ran and succeeded.
fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}
