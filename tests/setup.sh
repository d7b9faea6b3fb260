#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test verdict; safe to re-run.
# Called by `make demo` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
targets=(wasm32-unknown-unknown wasm32-wasip2)

if ! command -v rustup >/dev/null; then
    echo "setup: rustup is required (https://rustup.rs)" >&2
    exit 1
fi
installed=$(rustup +"$toolchain" target list --installed 2>/dev/null || true)
missing=()
for target in "${targets[@]}"; do
    grep -qx "$target" <<<"$installed" || missing+=("$target")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: adding Rust targets ${missing[*]}"
    rustup toolchain install "$toolchain" --profile minimal --component rustfmt,clippy >/dev/null
    rustup target add --toolchain "$toolchain" "${missing[@]}"
fi

# Debian packages the tests drive for real: Redis for the replicated
# anti-replay store (tests start their own redis-server; no service needed).
packages=(redis-server swtpm swtpm-tools tpm2-tools libtss2-dev pkg-config)
need=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
