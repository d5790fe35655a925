//! Install jobs: compile each device's firmware, then upload it over the air, N devices at a
//! time, in the server (closing the browser stops nothing). A rollout stops once more than
//! `max_failures` devices failed (hawkBit's rule); cancelling lets the devices already being
//! flashed finish (never half an update) and skips the rest.

use super::devices::{Address, Fleet, Installed};
use crate::codegen::compile::{compile, CompileOptions, Report};
use crate::upload::image::Image;
use crate::upload::progress::Reporter;
use crate::upload::store::ImageStore;
use crate::upload::{upload, Request, RetryPolicy};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    /// Succeeded, failed or cancelled: nothing more will happen.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Queued,
    Compiling,
    Uploading,
    Succeeded,
    Failed,
    Skipped,
}

impl RunState {
    fn is_final(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Skipped)
    }
}

/// One device in a job.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRun {
    pub file: String,
    pub state: RunState,
    /// Percent of the upload sent.
    pub progress: u8,
    pub message: String,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: u64,
    pub state: JobState,
    pub max_failures: Option<usize>,
    pub devices: Vec<DeviceRun>,
}

/// A line of a device's compile or upload output.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub file: String,
    pub line: String,
}

/// What a job's listeners (the page's event stream) hear.
#[derive(Debug, Clone)]
pub enum Event {
    Progress(JobView),
    Log(LogLine),
}

/// What to do with one device.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Build the config at `path` and send it to `address`; on success, record the files it
    /// was built from (as read by the build, not as the list last saw them).
    Install { path: PathBuf, address: Address },
    /// Report the device as skipped, with why.
    Skip(String),
}

pub struct Job {
    pub id: u64,
    view: Mutex<JobView>,
    log: Mutex<Vec<LogLine>>,
    events: broadcast::Sender<Event>,
    cancelled: AtomicBool,
}

impl Job {
    pub fn view(&self) -> JobView {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The job as it is, its log so far, and everything that happens from now on.
    pub fn subscribe(&self) -> (JobView, Vec<LogLine>, broadcast::Receiver<Event>) {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        (view.clone(), log.clone(), self.events.subscribe())
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub fn is_finished(&self) -> bool {
        self.view().state.is_final()
    }

    fn update(&self, change: impl FnOnce(&mut JobView)) {
        let mut view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut view);
        let _ = self.events.send(Event::Progress(view.clone()));
    }

    fn set(&self, i: usize, state: RunState, message: impl Into<String>) {
        let message = message.into();
        self.update(|v| {
            let run = &mut v.devices[i];
            run.state = state;
            run.message = message;
            if state == RunState::Uploading || state == RunState::Compiling {
                run.progress = 0;
            }
        });
    }

    fn log(&self, file: &str, line: &str) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let line = LogLine { file: file.to_string(), line: line.to_string() };
        // Bounded: a runaway build can't eat the server's memory.
        if log.len() < 20_000 {
            log.push(line.clone());
        }
        let _ = self.events.send(Event::Log(line));
    }
}

/// Every job this server ran (the most recent 50), and which devices are being installed.
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    list: Mutex<Vec<Arc<Job>>>,
    /// Device file → the job installing it now.
    busy: Mutex<BTreeMap<String, u64>>,
}

impl Jobs {
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|j| j.id == id).cloned()
    }

    /// The jobs, newest first.
    pub fn all(&self) -> Vec<Arc<Job>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).iter().rev().cloned().collect()
    }

    /// Starts a job over `work` on its own threads and returns it at once.
    pub fn start(self: &Arc<Jobs>, work: Vec<(String, Plan)>, workers: usize, max_failures: Option<usize>, context: Context) -> Arc<Job> {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let devices = work.iter().map(|(file, _)| DeviceRun { file: file.clone(), state: RunState::Queued, progress: 0, message: String::new() }).collect();
        let job = Arc::new(Job {
            id,
            view: Mutex::new(JobView { id, state: JobState::Queued, max_failures, devices }),
            log: Mutex::new(Vec::new()),
            events: broadcast::channel(4096).0,
            cancelled: AtomicBool::new(false),
        });
        {
            let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            list.push(job.clone());
            while list.len() > 50 {
                let Some(oldest) = list.iter().position(|j| j.is_finished()) else { break };
                list.remove(oldest);
            }
        }
        let (jobs, running) = (self.clone(), job.clone());
        std::thread::spawn(move || jobs.run(&running, work, workers, max_failures, &context));
        job
    }

    fn run(&self, job: &Job, work: Vec<(String, Plan)>, workers: usize, max_failures: Option<usize>, context: &Context) {
        job.update(|v| v.state = JobState::Running);
        let next = AtomicUsize::new(0);
        let failures = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..workers.clamp(1, work.len().max(1)) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((file, plan)) = work.get(i) else { return };
                    let failed = failures.load(Ordering::SeqCst);
                    if job.cancelled.load(Ordering::SeqCst) {
                        job.set(i, RunState::Skipped, "cancelled");
                    } else if max_failures.is_some_and(|m| failed > m) {
                        job.set(i, RunState::Skipped, format!("rollout stopped: {failed} devices failed (max_failures {})", max_failures.unwrap_or(0)));
                    } else if !self.claim(file, job.id) {
                        job.set(i, RunState::Skipped, "another job is installing it");
                    } else {
                        let ok = install(job, i, file, plan, context);
                        self.release(file);
                        if !ok {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        job.update(|v| {
            v.state = if job.cancelled.load(Ordering::SeqCst) {
                JobState::Cancelled
            } else if v.devices.iter().any(|d| d.state == RunState::Failed) {
                JobState::Failed
            } else {
                JobState::Succeeded
            };
            debug_assert!(v.devices.iter().all(|d| d.state.is_final()));
        });
    }

    fn claim(&self, file: &str, job: u64) -> bool {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if busy.contains_key(file) {
            return false;
        }
        busy.insert(file.to_string(), job);
        true
    }

    fn release(&self, file: &str) {
        self.busy.lock().unwrap_or_else(|p| p.into_inner()).remove(file);
    }
}

/// What every job shares: the fleet (to record installs) and one compile at a time (cargo
/// serializes builds in the shared target folder anyway, and two configs with the same device
/// name share a build folder: the image is read before the next compile starts).
#[derive(Clone)]
pub struct Context {
    pub fleet: Arc<RwLock<Fleet>>,
    pub compile_lock: Arc<Mutex<()>>,
}

/// One device: a skip, or compile then upload. `false` when it failed.
fn install(job: &Job, i: usize, file: &str, plan: &Plan, context: &Context) -> bool {
    let (path, address) = match plan {
        Plan::Skip(why) => {
            job.set(i, RunState::Skipped, why.clone());
            return true;
        }
        Plan::Install { path, address } => (path, address),
    };
    let started = Instant::now();
    job.set(i, RunState::Compiling, "compiling");
    let built = {
        let _one_at_a_time = context.compile_lock.lock().unwrap_or_else(|p| p.into_inner());
        let options = CompileOptions { config: path.clone(), ..CompileOptions::default() };
        compile(&options, &mut JobOutput { job, file }).map_err(|failed| {
            let first = failed.diagnostics.iter().find(|d| d.is_error()).map_or("the build failed".to_string(), |d| d.message.clone());
            format!("compile failed: {first}")
        })
        .and_then(|compiled| {
            let image = Image::read(&compiled.path).map_err(|e| format!("cannot read the image {}: {e}", compiled.path.display()))?;
            Ok((image, super::devices::fingerprint(&compiled.sources)))
        })
    };
    let (image, fingerprint) = match built {
        Ok((image, fingerprint)) => (Arc::new(image), fingerprint),
        Err(message) => {
            job.log(file, &message);
            job.set(i, RunState::Failed, message);
            return false;
        }
    };
    job.set(i, RunState::Uploading, format!("uploading to {}:{}", address.host, address.port));
    let request = Request {
        hosts: vec![address.host.clone()],
        port: address.port,
        password: address.password.clone(),
        image: image.clone(),
        retry: RetryPolicy::default(),
        store: Some(ImageStore::for_config(path)),
    };
    match upload(&request, &mut UploadProgress { job, i, file, total: 0 }) {
        Ok(addr) => {
            let at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let record = Installed { fingerprint, image_md5: image.md5_hex().to_string(), at };
            let recorded = context.fleet.write().unwrap_or_else(|p| p.into_inner()).record_install(file, record);
            if let Err(e) = recorded {
                job.log(file, &format!("warning: could not record the install: {e}"));
            }
            let message = format!("updated ({addr}) in {:.1} s", started.elapsed().as_secs_f64());
            job.log(file, &message);
            job.update(|v| v.devices[i].progress = 100);
            job.set(i, RunState::Succeeded, message);
            true
        }
        Err(e) => {
            let message = e.to_string();
            job.log(file, &format!("upload failed: {message}"));
            job.set(i, RunState::Failed, message);
            false
        }
    }
}

/// A compile's steps and messages, into the job's log.
struct JobOutput<'a> {
    job: &'a Job,
    file: &'a str,
}

impl Report for JobOutput<'_> {
    fn step(&mut self, line: &str) {
        self.job.log(self.file, line);
    }

    fn diagnostics(&mut self, sources: &crate::source::Sources, diagnostics: &[crate::diagnostics::Diagnostic]) {
        for line in crate::diagnostics::render_terminal(sources, diagnostics, false).lines() {
            self.job.log(self.file, line);
        }
    }

    fn output(&mut self, text: &str) {
        for line in text.lines() {
            self.job.log(self.file, line);
        }
    }

    fn wants_cargo_output(&self) -> bool {
        true
    }
}

/// An upload's lines into the log, its progress into the device's percentage.
struct UploadProgress<'a> {
    job: &'a Job,
    i: usize,
    file: &'a str,
    total: u64,
}

impl Reporter for UploadProgress<'_> {
    fn info(&mut self, line: &str) {
        self.job.log(self.file, line);
    }

    fn warn(&mut self, line: &str) {
        self.job.log(self.file, &format!("warning: {line}"));
    }

    fn progress_start(&mut self, total: u64) {
        self.total = total.max(1);
    }

    fn progress(&mut self, sent: u64) {
        let percent = (sent.saturating_mul(100) / self.total.max(1)).min(100) as u8;
        let (job, i) = (self.job, self.i);
        // One event per percent, not per block.
        if job.view.lock().unwrap_or_else(|p| p.into_inner()).devices[i].progress != percent {
            job.update(|v| v.devices[i].progress = percent);
        }
    }

    fn progress_done(&mut self) {}
}
