//! Integration tests: the `s3central` binary against a local S3 server (run them with `scripts/test`).

mod activity;
mod cli;
mod common;
mod diff;
mod faults;
mod hostile;
mod kills;
mod ls;
mod matrix;
mod partitioned;
mod proxy;
mod restore;
mod secrets;
mod setup;
