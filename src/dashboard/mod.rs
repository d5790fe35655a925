//! `ferrota dashboard DIR`: the fleet in a browser. A thin shell: the devices come from
//! [`devices`] (the same checks as `ferrota config`), installs from [`jobs`] (the same compile
//! and upload as the CLI), the HTTP side from [`api`]. Two background loops keep the list
//! current: a scan of the folder every second (a changed file re-checks the configs that read
//! it) and a poll of every device's OTA port every few seconds.

mod api;
pub mod devices;
pub mod jobs;

use devices::Fleet;
use jobs::{Context, Jobs};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// What `ferrota dashboard` was told.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub address: IpAddr,
    /// 0 picks a free port (the first line printed says which).
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Devices installed at once by "update all" unless the request says otherwise.
    pub jobs: usize,
}

/// The server's shared state.
pub struct App {
    /// The folder, canonical: every path the API names must be directly inside it.
    dir: PathBuf,
    fleet: Arc<RwLock<Fleet>>,
    jobs: Arc<Jobs>,
    compile_lock: Arc<Mutex<()>>,
    auth: Option<Credentials>,
    workers: usize,
    /// Where each device's name last resolved to (a `.local` name takes an mDNS query), and when.
    resolved: Mutex<std::collections::HashMap<(String, u16), (std::time::Instant, Vec<SocketAddr>)>>,
}

impl App {
    fn context(&self) -> Context {
        Context { fleet: self.fleet.clone(), compile_lock: self.compile_lock.clone() }
    }
}

/// HTTP Basic credentials, compared as their SHA-256 (no early exit on the first wrong byte).
struct Credentials {
    digest: [u8; 32],
}

impl Credentials {
    fn new(username: &str, password: &str) -> Credentials {
        Credentials { digest: Self::hash(format!("{username}:{password}").as_bytes()) }
    }

    fn hash(bytes: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(bytes).into()
    }

    /// `given`: the base64 after `Basic `.
    fn matches(&self, given: &str) -> bool {
        let mut decoded = vec![0u8; given.len()];
        let Some(n) = ferrota_ota::base64::decode_into(given.trim().as_bytes(), &mut decoded) else { return false };
        Self::hash(&decoded[..n]) == self.digest
    }
}

/// Serves until the process is stopped. `Err` says why it could not start.
pub fn run(options: Options) -> Result<(), String> {
    if !options.address.is_loopback() && options.password.is_none() {
        return Err(format!(
            "refusing to serve the dashboard on {} without --password: anyone who can reach it could install firmware on your devices. \
             Add --username and --password, or keep the default --address 127.0.0.1",
            options.address
        ));
    }
    let dir = options.dir.canonicalize().map_err(|e| format!("cannot open the folder {}: {e}", options.dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a folder of device configs", dir.display()));
    }
    let mut fleet = Fleet::new(dir.clone());
    fleet.scan();
    let count = fleet.devices.len();
    let auth = options.password.as_deref().map(|p| Credentials::new(options.username.as_deref().unwrap_or(""), p));
    let app = Arc::new(App {
        dir: dir.clone(),
        fleet: Arc::new(RwLock::new(fleet)),
        jobs: Arc::new(Jobs::default()),
        compile_lock: Arc::new(Mutex::new(())),
        auth,
        workers: options.jobs.max(1),
        resolved: Mutex::new(std::collections::HashMap::new()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(options.address, options.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", options.address, options.port))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        println!("ferrota dashboard: http://{bound}/ ({count} device config{} in {})", if count == 1 { "" } else { "s" }, dir.display());
        tokio::spawn(keep_scanning(app.clone()));
        tokio::spawn(keep_polling(app.clone()));
        axum::serve(listener, api::router(app)).await.map_err(|e| e.to_string())
    })
}

/// Re-reads the folder every second: added, edited and removed configs show up by themselves.
async fn keep_scanning(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let fleet = app.fleet.clone();
        let _ = tokio::task::spawn_blocking(move || fleet.write().unwrap_or_else(|p| p.into_inner()).scan()).await;
    }
}

/// Asks every device's OTA port whether it answers, every few seconds, all at once.
async fn keep_polling(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tick.tick().await;
        let addresses: Vec<(String, devices::Address)> = {
            let fleet = app.fleet.read().unwrap_or_else(|p| p.into_inner());
            fleet.devices.values().filter_map(|d| Some((d.file.clone(), d.address.clone()?))).collect()
        };
        let app = &app;
        let polls = addresses.into_iter().map(|(file, address)| async move { (file, answers(app, &address).await) });
        let results = futures_util::future::join_all(polls).await;
        let mut fleet = app.fleet.write().unwrap_or_else(|p| p.into_inner());
        for (file, online) in results {
            if let Some(device) = fleet.devices.get_mut(&file) {
                device.online = Some(online);
            }
        }
    }
}

/// Whether something accepts a TCP connection on the device's OTA port within 2 s. Names are
/// looked up as uploads do (a `.local` one over mDNS), at most once a minute per device.
async fn answers(app: &App, address: &devices::Address) -> bool {
    const FRESH: Duration = Duration::from_secs(60);
    let key = (address.host.clone(), address.port);
    let cached = app.resolved.lock().unwrap_or_else(|p| p.into_inner()).get(&key).filter(|(at, _)| at.elapsed() < FRESH).map(|(_, a)| a.clone());
    let addrs = match cached {
        Some(addrs) => addrs,
        None => {
            let (host, port) = key.clone();
            let resolved = tokio::task::spawn_blocking(move || crate::upload::resolve::resolve(&host, port)).await;
            // A name that did not resolve is asked again after the same minute.
            let addrs = resolved.ok().and_then(Result::ok).unwrap_or_default();
            app.resolved.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (std::time::Instant::now(), addrs.clone()));
            addrs
        }
    };
    for addr in addrs {
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials() {
        let credentials = Credentials::new("user", "pass");
        assert!(credentials.matches("dXNlcjpwYXNz"));
        assert!(!credentials.matches("dXNlcjpwYXNt") && !credentials.matches("") && !credentials.matches("%%%"));
    }

    #[test]
    fn refuses_the_network_without_a_password() {
        let options = Options { dir: ".".into(), address: "0.0.0.0".parse().unwrap(), port: 0, username: None, password: None, jobs: 4 };
        let why = run(options).unwrap_err();
        assert!(why.contains("without --password"), "{why}");
    }
}
