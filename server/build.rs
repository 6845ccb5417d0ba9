// Migrations are embedded with `sqlx::migrate!`; rebuild when they change. The commit the
// binary is built from goes into `--version` (UA_BUILD_COMMIT; "unknown" outside a git
// checkout).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    // Only paths that exist: cargo re-runs a build script every time for a missing one.
    for path in ["../.git/HEAD", "../.git/refs/heads", "../.git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-env-changed=UA_BUILD_COMMIT");
    let commit = std::env::var("UA_BUILD_COMMIT").ok().or_else(|| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=UA_BUILD_COMMIT={}",
        commit
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "unknown".into())
    );
}
