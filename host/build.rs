//! Builds the policy components (components/) for wasm32-unknown-unknown and
//! wraps each core module into a component of the `verdict:policy` world.
//!
//! The components are embedded into the host (the Rego engine, the built-in
//! policies) and also written to `target/components/<name>.wasm`, where users
//! find them for `verdict eval --policy` and `verdict replay --policies`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let host = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = host.parent().expect("host/ lives in the workspace root");
    let components = root.join("components");
    watch_sources(&components);
    println!("cargo:rerun-if-changed={}", root.join("wit").display());

    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    emit_version(
        "VERDICT_WASMTIME_VERSION",
        &root.join("Cargo.lock"),
        "wasmtime",
    );
    emit_version(
        "VERDICT_REGORUS_VERSION",
        &components.join("Cargo.lock"),
        "regorus",
    );

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_root = target_dir(&out_dir, root);
    let wasm_target_dir = target_root.join("wasm-components");
    build_core_modules(&components, &wasm_target_dir);

    let published = target_root.join("components");
    fs::create_dir_all(&published).expect("create target/components");
    let built = wasm_target_dir.join(WASM_TARGET).join("release");
    for name in built_modules(&built) {
        let core = fs::read(built.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("reading the built {name}.wasm: {e}"));
        let component = componentize(&name, &core);
        fs::write(out_dir.join(format!("{name}.wasm")), &component)
            .expect("write OUT_DIR component");
        write_if_changed(&published.join(format!("{name}.wasm")), &component);
    }
    println!(
        "cargo:rustc-env=VERDICT_COMPONENTS_DIR={}",
        published.display()
    );
}

/// Rebuild when any component crate changes (not when their build output does).
fn watch_sources(components: &Path) {
    for entry in fs::read_dir(components)
        .expect("list components/")
        .flatten()
    {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n != "target") {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn build_core_modules(components: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(components.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(components);
    // The outer build's flags and wrappers are for the host target, not wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("running cargo for the policy components");
    if !status.success() {
        panic!(
            "building the policy components failed ({status}); is the {WASM_TARGET} target \
             installed? `rustup target add {WASM_TARGET}`"
        );
    }
}

/// The build's target directory, absolute: OUT_DIR is
/// `<target>/<profile>/build/<package>-<hash>/out`. (CARGO_TARGET_DIR may be
/// relative to wherever cargo was started, which a build script cannot know.)
fn target_dir(out_dir: &Path, root: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| root.join("target"), Path::to_path_buf)
}

/// Every cdylib the components workspace built, by file stem.
fn built_modules(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.path().file_name()?.to_str().map(str::to_string))
        .filter_map(|file| file.strip_suffix(".wasm").map(str::to_string))
        .collect();
    names.sort();
    names
}

fn componentize(name: &str, core: &[u8]) -> Vec<u8> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|e| panic!("wrapping {name} into a component: {e:?}"))
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

/// Passes the locked version of `package` to the crate as `var`: decision
/// records name the engine versions that produced them.
fn emit_version(var: &str, lock: &Path, package: &str) {
    let text =
        fs::read_to_string(lock).unwrap_or_else(|e| panic!("reading {}: {e}", lock.display()));
    let needle = format!("name = \"{package}\"\nversion = \"");
    let version = text
        .find(&needle)
        .map(|at| &text[at + needle.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{package} is not in {}", lock.display()));
    println!("cargo:rustc-env={var}={version}");
}
