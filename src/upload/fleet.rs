//! Many uploads at once (`--jobs N`): a fixed number of worker threads, one result line per
//! device as it finishes, and a failing device never stops the others.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::errors::UploadError;
use super::progress::Quiet;
use super::{upload, web_server, Request};

/// One device's upload.
#[derive(Clone)]
pub enum Job {
    Native(Request),
    WebServer(web_server::Request),
}

/// How one device's upload ended.
#[derive(Debug)]
pub struct Outcome {
    /// What the user calls the device (config file and device name).
    pub label: String,
    pub result: Result<SocketAddr, UploadError>,
    pub took: Duration,
}

/// Runs `jobs` on `workers` threads; `on_done` sees each outcome as it lands (in completion
/// order); the returned list is in job order.
pub fn run(jobs: Vec<(String, Job)>, workers: usize, on_done: &(dyn Fn(&Outcome) + Sync)) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let workers = workers.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((label, job)) = jobs.get(i) else { return };
                let started = Instant::now();
                let result = match job {
                    Job::Native(request) => upload(request, &mut Quiet),
                    Job::WebServer(request) => web_server::upload(request, &mut Quiet),
                };
                let outcome = Outcome { label: label.clone(), result, took: started.elapsed() };
                on_done(&outcome);
                // A poisoned lock means another worker panicked; keep this result anyway.
                let mut results = results.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(outcome);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect()
}

/// The result line of one device.
pub fn line(outcome: &Outcome) -> String {
    match &outcome.result {
        Ok(addr) => format!("OK    {} ({addr}) in {:.1} s", outcome.label, outcome.took.as_secs_f64()),
        Err(e) => format!("FAIL  {}: {e}", outcome.label),
    }
}

/// The closing summary: `3 of 4 devices updated, 1 failed`.
pub fn summary(outcomes: &[Outcome]) -> String {
    let ok = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let failed = outcomes.len() - ok;
    let s = if outcomes.len() == 1 { "" } else { "s" };
    format!("{ok} of {} device{s} updated, {failed} failed", outcomes.len())
}
