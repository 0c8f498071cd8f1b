// SPDX-License-Identifier: GPL-2.0

//! Compiles the verbs/rdma_cm shim (c/shim.c) and links rdma-core.

fn main() {
    println!("cargo:rerun-if-changed=c/shim.c");
    cc::Build::new()
        .file("c/shim.c")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-unused-parameter")
        .compile("rnbd_peer_shim");
    println!("cargo:rustc-link-lib=ibverbs");
    println!("cargo:rustc-link-lib=rdmacm");
}
