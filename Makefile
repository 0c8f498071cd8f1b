# rnbd-rs entry points. Everything big lives in $(RNBD_CACHE)
# (default ~/.cache/rnbd-rs), never in the repository.
#
#   make setup     install dependencies, build the kernel, run the demo
#   make test      host unit tests, fuzzing, every VM scenario in tests/
#   make bench     every C/Rust client/server pair, interleaved rounds, medians
#
# VARIANT=debug selects the KASAN/lockdep/kmemleak kernel for kernel,
# modules, test and scenario.

VARIANT ?= default
export VARIANT

# SERVER_IMPL=rust|c picks the rnbd_server of the scenarios that take
# either (default rust), e.g. `make scenario S=tests/server-sessions-2vm
# SERVER_IMPL=c`; CLIENT_IMPL=rust|c the rnbd_client likewise, e.g.
# `make scenario S=tests/client-force-unmap-2vm CLIENT_IMPL=c`;
# RNBD_GUEST_ENV="KEY=VALUE ..." passes other variables to the guest
# scripts (tools/vmrun.sh).
export SERVER_IMPL CLIENT_IMPL RNBD_GUEST_ENV

# Scenarios left out of `make test` (`make test PENDING=` runs them too):
# none at the moment.
PENDING ?=
SCENARIOS ?= $(filter-out $(PENDING),$(sort $(dir $(wildcard tests/*/vm1.sh))))

.PHONY: all setup deps kernel tools modules install install-check demo test unit fuzz scenario bench check clean

all: kernel tools modules install

setup: deps kernel tools modules install demo

deps:
	tools/setup/install-deps.sh

kernel:
	tools/kernel/build.sh

tools:
	cargo build --release --locked --workspace

modules:
	tools/kernel/modules.sh

# rnbd_server.ko and rnbd_client.ko under /lib/modules/<kver>/extra with a
# depmod override (they win over the upstream C modules), then depmod:
# into the guest module tree of $(VARIANT) by default, or, with
# KDIR=/lib/modules/$$(uname -r)/build, for a Rust-enabled host kernel
# (README.md, "Install on a host").
install: $(if $(KDIR),,modules)
	tools/kernel/install.sh

# The demo: the upstream C RNBD across two VMs, data verified both ends.
demo: tools install
	tools/vmrun.sh tests/c-baseline-2vm

# Includes tools/wire/tests/c_layout.rs, which compiles the C wire structs
# with the kernel's flags (tools/wire/c-layout.sh): needs `make kernel`.
unit:
	cargo test --locked --workspace

# Every wire decoder under libFuzzer, FUZZ_SECONDS (10) per target.
fuzz:
	tools/wire/fuzz.sh

# The host install paths: a kernel without CONFIG_RUST refused with one
# sentence, make install KDIR= and DKMS against the Rust-enabled kernel.
install-check: install
	tests/host/install-check.sh

test: unit fuzz tools install install-check
	tools/vmrun.sh $(SCENARIOS)

# make scenario S=tests/c-loopback-1vm
scenario: tools install
	tools/vmrun.sh $(S)

# Interleaved rounds of all four client/server pairs (about 35 minutes);
# RNBD_BENCH_QUICK=1 (one round, two jobs), RNBD_BENCH_PROFILE=1 (perf in
# the client VM), RNBD_BENCH_ROUNDS, RNBD_BENCH_RUNTIME, ...:
# Documentation/benchmarks/README.md.
bench: tools install
	tools/bench/run.sh

check:
	cargo fmt --all -- --check
	cargo fmt --manifest-path tools/wire/fuzz/Cargo.toml -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	rustfmt --check --edition 2021 $(wildcard tests/modules/*/*_main.rs rnbd/*/*_main.rs) kernel/rust/kernel_ext/mod.rs

clean:
	tools/kernel/modules.sh clean
	cargo clean
