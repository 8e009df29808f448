# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo: one debug build for both, with clippy's lints.
#
# `cargo clippy` is `cargo check` with clippy-driver wrapping rustc for the workspace's own crates
# (RUSTC_WORKSPACE_WRAPPER, the lint flags in CLIPPY_ARGS), and a check build cannot serve a test
# build (it emits metadata only), so every dependency was compiled twice: 165 s of a fresh clone's
# 777 s test run went to the check build alone. Here the same wrapper and flags are set for the
# full build itself: dependencies are compiled once, with rustc, and s3central's own crates (lib,
# bins, tests and examples, each as cargo test builds it) are compiled by clippy-driver, which
# fails the build on any lint, as `cargo clippy --all-targets -- -D warnings` does. Every cargo
# command of both scripts runs with the same two variables, so none rebuilds another's crates.
# Without clippy-driver (a toolchain without the clippy component) the build is a plain one.
_clippy_driver="$(rustc --print sysroot 2>/dev/null)/bin/clippy-driver"
if [[ -x "$_clippy_driver" ]]; then
    export RUSTC_WORKSPACE_WRAPPER="$_clippy_driver"
    # cargo-clippy's own encoding of the arguments after `--`: each followed by this separator.
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi
unset _clippy_driver
