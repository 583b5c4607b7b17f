//! The platform's durable PostgreSQL job queue.
//!
//! Jobs live in the `jobs` table (migration `0002_jobs.sql`). Producers call [`enqueue`]
//! inside the transaction that makes the state change needing the job, so the job exists
//! if and only if that change committed. Workers ([`run_workers`]) claim due jobs with
//! `FOR UPDATE SKIP LOCKED`, hold a lease they renew while the handler runs, retry with
//! exponential backoff and jitter, and mark a job `dead` after its last attempt. A job
//! whose worker died (its lease expired) is claimed again, and that attempt counts.
//!
//! Delivery is **at least once**: a worker can die after a step took effect but before
//! the job was marked done. Handlers must therefore be idempotent step by step (check
//! whether the step's effect already exists before doing it, or use upserts / unique
//! keys), and report progress with [`JobContext::progress`] between steps.
//!
//! The UI reads the same table through [`Queue`]: `list`, `get`, `counts`, `retry`,
//! `cancel`.

mod error;
mod job;
mod queue;
mod worker;

pub use error::{JobError, QueueError};
pub use job::{Cursor, JobCounts, JobFilter, JobPage, JobRecord, JobState, NewJob, Progress};
pub use queue::{enqueue, wake, Queue};
pub use worker::{
    handler_fn, run_workers, Handler, JobContext, Registry, WorkerConfig, NOTIFY_CHANNEL,
};
