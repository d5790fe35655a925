//! The dashboard's HTTP side: the page, the JSON API (its paths and fields are a contract,
//! README "Dashboard"), job progress as Server-Sent Events, and the guards every request goes
//! through (Basic auth when set, same-origin for anything that changes state, names that stay
//! inside the folder).

use super::devices::{self, Problem};
use crate::compiler::is_config_name;
use super::jobs::{Event, Plan};
use super::App;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;

const PAGE: &str = include_str!("page.html");

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/devices", get(list_devices))
        .route("/api/devices/{file}/validate", post(validate))
        .route("/api/devices/{file}/config", get(read_config).put(save_config))
        .route("/api/devices/{file}/install", post(install))
        .route("/api/update-all", post(update_all))
        .route("/api/jobs", get(list_jobs))
        .route("/api/jobs/{job}", get(job))
        .route("/api/jobs/{job}/events", get(job_events))
        .route("/api/jobs/{job}/cancel", post(cancel))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// `{"error": "..."}` with a status.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// Basic auth when the dashboard has a password; state changes only from the page's own origin.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(expected) = &app.auth {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
        if !given.is_some_and(|g| expected.matches(g)) {
            let mut response = error(StatusCode::UNAUTHORIZED, "this dashboard needs a username and password");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"ferrota dashboard\""));
            return response;
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Err(why) = same_origin(request.headers()) {
            return error(StatusCode::FORBIDDEN, why);
        }
    }
    next.run(request).await
}

/// A browser names the page that sent a request in `Origin`; it must be this dashboard.
/// Scripts (no `Origin`) are let through, as they are not a browser tricked by another site.
fn same_origin(headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("null");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest.trim_end_matches('/'));
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(format!("cross-origin request refused: {origin} is not this dashboard ({host})"))
    }
}

/// The device named in a path: a config file of the folder, never anything outside it.
fn device_path(app: &App, file: &str) -> Result<std::path::PathBuf, Response> {
    let unknown = || error(StatusCode::NOT_FOUND, format!("no device config named {file:?} in the dashboard's folder"));
    if !is_config_name(file) {
        return Err(unknown());
    }
    let path = app.dir.join(file);
    // A symlink that leads out of the folder is not served.
    match path.canonicalize() {
        Ok(real) if real.parent() == Some(app.dir.as_path()) => Ok(path),
        _ => Err(unknown()),
    }
}

async fn list_devices(State(app): State<Arc<App>>) -> Response {
    let fleet = app.fleet.read().unwrap_or_else(|p| p.into_inner());
    Json(fleet.devices.values().collect::<Vec<_>>()).into_response()
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

/// `{valid, diagnostics}` of the saved config, or of `{"text": …}` (the editor's unsaved text).
async fn validate(State(app): State<Arc<App>>, Path(file): Path<String>, body: Bytes) -> Response {
    let path = match device_path(&app, &file) {
        Ok(path) => path,
        Err(response) => return response,
    };
    let text = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Text>(&body) {
            Ok(t) => Some(t.text),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("expected {{\"text\": \"…\"}}: {e}")),
        }
    };
    let dir = app.dir.clone();
    let checked = tokio::task::spawn_blocking(move || devices::check_text(&dir, &path, text.as_deref())).await;
    match checked {
        Ok((valid, diagnostics)) => Json(json!({"valid": valid, "diagnostics": diagnostics})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn read_config(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    let path = match device_path(&app, &file) {
        Ok(path) => path,
        Err(response) => return response,
    };
    match tokio::fs::read_to_string(&path).await {
        Ok(text) => Json(json!({"file": file, "text": text})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {file}: {e}")),
    }
}

/// Saves the editor's text (an invalid config too: the answer says what is wrong).
async fn save_config(State(app): State<Arc<App>>, Path(file): Path<String>, Json(body): Json<Text>) -> Response {
    let path = match device_path(&app, &file) {
        Ok(path) => path,
        Err(response) => return response,
    };
    let dir = app.dir.clone();
    let saved = tokio::task::spawn_blocking(move || {
        crate::codegen::write::write_if_changed(&path, body.text.as_bytes())?;
        Ok::<_, std::io::Error>(devices::check_text(&dir, &path, None))
    })
    .await;
    match saved {
        Ok(Ok((valid, diagnostics))) => Json(json!({"valid": valid, "diagnostics": diagnostics})).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot save {file}: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Installs one device, whatever its state: the user asked for this one.
async fn install(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    if let Err(response) = device_path(&app, &file) {
        return response;
    }
    let plan = {
        let fleet = app.fleet.read().unwrap_or_else(|p| p.into_inner());
        match fleet.devices.get(&file) {
            Some(device) => plan(&app, device, false),
            None => return error(StatusCode::NOT_FOUND, format!("{file} is not a device config the dashboard has read yet")),
        }
    };
    let job = app.jobs.start(vec![(file, plan)], 1, None, app.context());
    (StatusCode::ACCEPTED, Json(json!({"job": job.id}))).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UpdateAll {
    jobs: Option<usize>,
    max_failures: Option<usize>,
    only_outdated: Option<bool>,
    files: Option<Vec<String>>,
}

/// Installs every device that needs it (or every one, or the `files` named), N at a time.
async fn update_all(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: UpdateAll = if body.is_empty() {
        UpdateAll::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("update-all takes {{jobs?, max_failures?, only_outdated?, files?}}: {e}")),
        }
    };
    let only_outdated = request.only_outdated.unwrap_or(true);
    let work: Vec<(String, Plan)> = {
        let fleet = app.fleet.read().unwrap_or_else(|p| p.into_inner());
        if let Some(unknown) = request.files.iter().flatten().find(|f| !fleet.devices.contains_key(*f)) {
            return error(StatusCode::NOT_FOUND, format!("no device config named {unknown:?} in the dashboard's folder"));
        }
        fleet
            .devices
            .values()
            .filter(|d| request.files.as_ref().is_none_or(|files| files.contains(&d.file)))
            .filter(|d| !only_outdated || d.needs_update || !d.valid)
            .map(|d| (d.file.clone(), plan(&app, d, true)))
            .collect()
    };
    let workers = request.jobs.unwrap_or(app.workers).max(1);
    let job = app.jobs.start(work, workers, request.max_failures, app.context());
    (StatusCode::ACCEPTED, Json(json!({"job": job.id}))).into_response()
}

/// What a job does with a device: install it, or skip it with the reason (an invalid config;
/// in a rollout, a device known to be offline).
fn plan(app: &App, device: &devices::Device, rollout: bool) -> Plan {
    if !device.valid {
        let first = device.diagnostics.iter().find(|d| d.severity == crate::diagnostics::Severity::Error);
        return Plan::Skip(format!("invalid config: {}", first.map_or("see its diagnostics", |p: &Problem| p.message.as_str())));
    }
    let Some(address) = device.address.clone() else {
        return Plan::Skip("its config has no `ota: - platform: esphome` to install through".into());
    };
    if rollout && device.online == Some(false) {
        return Plan::Skip(format!("offline: nothing answers on {}:{}", address.host, address.port));
    }
    Plan::Install { path: app.dir.join(&device.file), address }
}

async fn list_jobs(State(app): State<Arc<App>>) -> Response {
    Json(app.jobs.all().iter().map(|j| j.view()).collect::<Vec<_>>()).into_response()
}

fn find_job(app: &App, id: &str) -> Result<Arc<super::jobs::Job>, Response> {
    id.parse().ok().and_then(|id| app.jobs.get(id)).ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn job(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match find_job(&app, &id) {
        Ok(job) => Json(job.view()).into_response(),
        Err(response) => response,
    }
}

async fn cancel(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match find_job(&app, &id) {
        Ok(job) => {
            job.cancel();
            Json(job.view()).into_response()
        }
        Err(response) => response,
    }
}

/// `progress` events (the job, as `GET /api/jobs/{job}` shows it) and `log` events (a line of
/// one device's output): first the job as it is and its log so far, then as it happens,
/// until it ends.
async fn job_events(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let job = match find_job(&app, &id) {
        Ok(job) => job,
        Err(response) => return response,
    };
    let (view, log, receiver) = job.subscribe();
    let progress = |view: &super::jobs::JobView| sse::Event::default().event("progress").json_data(view).unwrap_or_default();
    let mut first: Vec<sse::Event> = vec![progress(&view)];
    first.extend(log.iter().map(|l| sse::Event::default().event("log").json_data(l).unwrap_or_default()));
    let finished = job.is_finished();
    let initial = futures_util::stream::iter(first.into_iter().map(Ok::<_, Infallible>));
    let live = futures_util::stream::unfold((receiver, job, finished), move |(mut receiver, job, finished)| async move {
        if finished {
            return None;
        }
        let (event, done) = match receiver.recv().await {
            Ok(Event::Progress(view)) => (progress(&view), view.state.is_final()),
            Ok(Event::Log(line)) => (sse::Event::default().event("log").json_data(&line).unwrap_or_default(), false),
            // Fell behind: the job as it is now says where things stand.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                let view = job.view();
                (progress(&view), view.state.is_final())
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), (receiver, job, done)))
    });
    use futures_util::StreamExt;
    Sse::new(initial.chain(live)).keep_alive(KeepAlive::default()).into_response()
}
