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

/// How much lower than the request workers the writer thread runs, in
/// nice steps (Linux). A writer at the workers' priority preempts them as
/// soon as one record is queued, so under load it wrote batches of one or
/// two records, each with its own sync and signature. At a lower priority
/// the workers finish what they are running and the writer takes everything
/// they queued in one batch. It cannot starve: every request waits for its
/// record, so when the writer falls behind the workers run out of work.
/// BENCHMARKS.md has the measurement.
const WRITER_NICE: i32 = 10;

/// Starts the writer for `log`.
pub fn start(log: DecisionLog) -> Result<(DecisionSink, DecisionWriter), LogUnavailable> {
    let (jobs, queue) = mpsc::sync_channel::<Job>(4 * MAX_BATCH);
    let handle = thread::Builder::new()
        .name("verdict-decision-log".into())
        .spawn(move || {
            lower_priority();
            write_batches(log, queue)
        })
        .map_err(|e| LogUnavailable(e.to_string()))?;
    Ok((DecisionSink { jobs }, DecisionWriter { handle }))
}

/// Lowers the calling thread's priority by [`WRITER_NICE`]; only a
/// throughput matter, so a failure is logged and ignored.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        // On Linux the nice value belongs to the thread (task) id.
        let thread = Some(rustix::thread::gettid());
        let lowered = getpriority_process(thread)
            .and_then(|nice| setpriority_process(thread, (nice + WRITER_NICE).min(19)));
        if let Err(error) = lowered {
            tracing::debug!(%error, "could not lower the decision-log writer's priority");
        }
    }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::crypto::{SignatureAlgorithm, SigningKey};

    /// The nice values of this process's threads named `name`
    /// (truncated to the kernel's 15 bytes).
    fn nice_of_threads(name: &str) -> Vec<i64> {
        let comm: String = name.chars().take(15).collect();
        let mut nice = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let Ok(found) = std::fs::read_to_string(task.join("comm")) else {
                continue;
            };
            if found.trim_end() != comm {
                continue;
            }
            let stat = std::fs::read_to_string(task.join("stat")).unwrap();
            // Field 19 of stat(5) is nice; fields after the `)` start at 3.
            let after = stat.rsplit_once(')').unwrap().1;
            nice.push(after.split_whitespace().nth(16).unwrap().parse().unwrap());
        }
        nice
    }

    #[test]
    fn the_writer_runs_below_the_request_workers() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let log = DecisionLog::open(dir.path().join("log.jsonl"), key).unwrap();
        let base = rustix::process::getpriority_process(None).unwrap() as i64;
        let (sink, writer) = start(log).unwrap();
        let expected = (base + i64::from(WRITER_NICE)).min(19);
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen = nice_of_threads("verdict-decision-log");
            if seen.contains(&expected) {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(seen.contains(&expected), "writer threads' nice: {seen:?}");
        drop(sink);
        writer.close();
    }
}
