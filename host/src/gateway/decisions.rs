//! The gateway's side of the decision log: one writer thread, group commit.
//!
//! Handlers hand records to the writer and wait for them to be durable: a
//! response that names a decision id is only sent once that record is on
//! disk. The writer appends whatever has queued up as one batch with one
//! `fsync` and one signature (the log's `append_batch`), so concurrent
//! requests share both.

use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use tokio::sync::oneshot;

use crate::log::{Appended, DecisionLog, NewRecord};

/// Most records written per sync.
const MAX_BATCH: usize = 512;

type Job = (NewRecord, oneshot::Sender<Result<Appended, String>>);

/// Why a decision could not be logged; the request fails closed (503).
#[derive(Debug, thiserror::Error)]
#[error("the decision log is unavailable: {0}")]
pub struct LogUnavailable(pub String);

/// Sends records to the writer thread. Dropping the last sender lets the
/// writer finish the queue and exit; [`DecisionWriter::close`] waits for it.
#[derive(Clone)]
pub struct DecisionSink {
    jobs: mpsc::SyncSender<Job>,
}

/// The writer thread.
pub struct DecisionWriter {
    handle: JoinHandle<()>,
}

/// Starts the writer for `log`.
pub fn start(log: DecisionLog) -> Result<(DecisionSink, DecisionWriter), LogUnavailable> {
    let (jobs, queue) = mpsc::sync_channel::<Job>(4 * MAX_BATCH);
    let handle = thread::Builder::new()
        .name("verdict-decision-log".into())
        .spawn(move || write_batches(log, queue))
        .map_err(|e| LogUnavailable(e.to_string()))?;
    Ok((DecisionSink { jobs }, DecisionWriter { handle }))
}

impl DecisionSink {
    /// Appends `record` and returns its `seq` and id once it is durable.
    pub async fn append(&self, record: NewRecord) -> Result<Appended, LogUnavailable> {
        let (reply, written) = oneshot::channel();
        let stopped = || LogUnavailable("the writer has stopped".into());
        match self.jobs.try_send((record, reply)) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
            // The queue is bounded; when it is full, wait off the async workers.
            Err(mpsc::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job).map_err(|_| ()))
                    .await
                    .map_err(|e| LogUnavailable(e.to_string()))?
                    .map_err(|()| stopped())?;
            }
        }
        written
            .await
            .map_err(|_| stopped())?
            .map_err(LogUnavailable)
    }
}

impl DecisionWriter {
    /// Waits until every queued record is written (all senders must be gone).
    pub fn close(self) {
        let _ = self.handle.join();
    }
}

fn write_batches(mut log: DecisionLog, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (records, replies): (Vec<NewRecord>, Vec<_>) = batch.into_iter().unzip();
        match log.append_batch(records) {
            Ok(written) => {
                for (record, reply) in written.into_iter().zip(replies) {
                    let _ = reply.send(Ok(record));
                }
            }
            Err(error) => {
                tracing::error!(%error, "decision log write failed");
                for reply in replies {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
    }
}
