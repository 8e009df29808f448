//! s3central: back up many AWS accounts' S3 buckets into one central bucket, browse it, and restore
//! any account to any point in time. A pure core (time, pit, filter, policies) and a thin I/O shell.

pub mod account;
pub mod activity;
pub mod aws;
pub mod central;
pub mod cli;
pub mod commands;
pub mod config;
pub mod coverage;
pub mod diff;
pub mod drill;
pub mod error;
pub mod filter;
pub mod inventory;
pub mod inventory_source;
pub mod listing;
pub mod objects;
pub mod output;
pub mod partition;
pub mod pit;
pub mod progress;
pub mod region;
pub mod text;
pub mod time;
pub mod version;

pub use error::{Error, Result};
pub mod kms;
pub mod localfile;
pub mod restore;
pub mod setup;
