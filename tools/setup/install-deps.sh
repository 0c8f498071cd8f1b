#!/usr/bin/env bash
# Install every host dependency of rnbd-rs from Debian and crates.io.
# Idempotent: a second run with everything present does no network work.
set -euo pipefail

RUST_WEB_VERSION=1.85.0+dfsg3-1~deb12u3
BINDGEN_VERSION=0.69.5
CARGO_FUZZ_VERSION=0.13.2

apt_packages=(
    linux-source-6.12
    "rustc-web=${RUST_WEB_VERSION}"
    "libstd-rust-web-dev=${RUST_WEB_VERSION}"
    "libstd-rust-web-1.85=${RUST_WEB_VERSION}"
    "rust-web-src=${RUST_WEB_VERSION}"
    clang-19 lld-19 llvm-19 libclang-19-dev
    bc flex bison libelf-dev libssl-dev cpio dwarves kmod xz-utils make
    qemu-system-x86 busybox-static iproute2
    rdma-core ibverbs-utils ibverbs-providers librdmacm-dev libibverbs-dev
    perftest fio ccache e2fsprogs jq python3 rsync patch
    gnuplot-nox linux-perf
    g++
    dkms linux-headers-amd64
)

missing=()
for pkg in "${apt_packages[@]}"; do
    name=${pkg%%=*}
    want=${pkg#*=}
    have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
    case "$have" in
        # "hold" once we have pinned it.
        "install ok installed"* | "hold ok installed"*)
            if [[ "$pkg" == *=* && "$have" != *" $want" ]]; then missing+=("$pkg"); fi ;;
        *) missing+=("$pkg") ;;
    esac
done

if ((${#missing[@]})); then
    echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends --allow-downgrades "${missing[@]}"
    # Keep an apt upgrade from replacing the pinned kernel Rust toolchain.
    apt-mark hold rustc-web libstd-rust-web-dev libstd-rust-web-1.85 rust-web-src >/dev/null
else
    echo "setup: Debian packages present"
fi

cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
if ! "$cargo_bin/bindgen" --version 2>/dev/null | grep -q "bindgen ${BINDGEN_VERSION}"; then
    echo "setup: installing bindgen-cli ${BINDGEN_VERSION} from crates.io"
    cargo install --locked bindgen-cli --version "${BINDGEN_VERSION}"
else
    echo "setup: bindgen-cli ${BINDGEN_VERSION} present"
fi

# Fuzzing the wire decoders (tools/wire/fuzz.sh); libfuzzer-sys builds
# libFuzzer with g++.
if ! "$cargo_bin/cargo-fuzz" --version 2>/dev/null | grep -q "cargo-fuzz ${CARGO_FUZZ_VERSION}"; then
    echo "setup: installing cargo-fuzz ${CARGO_FUZZ_VERSION} from crates.io"
    cargo install --locked cargo-fuzz --version "${CARGO_FUZZ_VERSION}"
else
    echo "setup: cargo-fuzz ${CARGO_FUZZ_VERSION} present"
fi
