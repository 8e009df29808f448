//! One interface for both engines: a prepared restore run by this machine or by an S3 Batch
//! Operations job, every key's fate told to the same [`Events`], the same totals back.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::{EngineArg, RestoreArgs};
use crate::error::Result;
use crate::progress::RestoreProgress;
use crate::restore::batch_run::{self, Outcome};
use crate::restore::prepare::{nothing_found, Prepared};
use crate::restore::{self, Events};

/// Runs a prepared restore with the engine `args` chose. `progress` draws the local engine's
/// counters; `stop` (Ctrl-C) stops its new copies while those in flight finish. A source that
/// listed nothing at all is refused here, naming what central (or the inventory) does hold.
pub async fn execute(
    prepared: Prepared,
    args: &RestoreArgs,
    progress: RestoreProgress,
    stop: impl Future<Output = ()> + Send,
    events: &mut impl Events,
) -> Result<Outcome> {
    if args.engine == EngineArg::Batch {
        return batch_run::run(prepared, args, events).await;
    }
    let requests = prepared.requests();
    let identity = prepared.describe();
    let Prepared {
        central,
        target_bucket,
        at,
        caller,
        request,
        copier,
        scan,
        inventory,
        ..
    } = prepared;
    tracing::info!(%central, %target_bucket, at = %crate::time::format_time(at), mode = ?copier.mode, kms = %copier.kms_key_arn, "restore starting");
    let stopped = Arc::new(AtomicBool::new(false));
    let stop = {
        let stopped = stopped.clone();
        async move {
            stop.await;
            stopped.store(true, Ordering::Relaxed);
        }
    };
    let mut summary = restore::run(request, copier, progress, requests, stop, |key| {
        events.key(key)
    })
    .await?;
    summary.interrupted = stopped.load(Ordering::Relaxed);
    summary.identity = identity;
    summary.archived = scan.total();
    summary.archive_requested = scan.requested;
    summary.archive_in_progress = scan.in_progress;
    if summary.listed == 0 && !summary.interrupted {
        // Nothing at all under the prefix: most likely a mistyped account (or PATH) in a script.
        return Err(nothing_found(&caller, &central, inventory.as_deref(), args).await);
    }
    Ok(Outcome {
        summary,
        plan: None,
    })
}
