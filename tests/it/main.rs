//! Integration tests: the `s3central` binary against a local S3 server (run them with `scripts/test`).

mod activity;
mod alerts;
mod architecture;
mod archive;
mod cli;
mod common;
mod coverage;
mod diff;
mod docs;
mod faults;
mod hostile;
mod inventory;
mod kills;
mod lock;
mod ls;
mod matrix;
mod partitioned;
mod proxy;
mod restore;
mod restore_ux;
mod secrets;
mod setup;
mod stacksets;
mod trust;
mod undo;
mod verify;
