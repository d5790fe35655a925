//! What the user sees while uploading: an indicatif bar on a terminal, plain lines otherwise,
//! nothing but errors with `--quiet`. Everything goes to stderr, like ESPHome's client.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives log lines and data-phase progress.
pub trait Reporter {
    fn info(&mut self, line: &str);
    fn warn(&mut self, line: &str);
    fn progress_start(&mut self, total: u64);
    fn progress(&mut self, sent: u64);
    fn progress_done(&mut self);
}

/// How to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    Plain,
    Quiet,
}

/// The reporter for `style`, with every line prefixed by `prefix` (the device, in fleets).
pub fn reporter(style: Style, prefix: &str) -> Box<dyn Reporter + Send> {
    match style {
        Style::Quiet => Box::new(Quiet),
        Style::Auto if std::io::stderr().is_terminal() => Box::new(Bar { bar: None, prefix: prefix.to_owned() }),
        _ => Box::new(Lines { prefix: prefix.to_owned(), total: 0, last_decile: None }),
    }
}

/// Says nothing; errors are reported by the caller.
pub struct Quiet;

impl Reporter for Quiet {
    fn info(&mut self, _: &str) {}
    fn warn(&mut self, _: &str) {}
    fn progress_start(&mut self, _: u64) {}
    fn progress(&mut self, _: u64) {}
    fn progress_done(&mut self) {}
}

/// Plain lines, one per 10 % of progress: readable in CI logs and pipes.
pub struct Lines {
    prefix: String,
    total: u64,
    last_decile: Option<u64>,
}

impl Lines {
    fn line(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}{text}", self.prefix);
    }
}

impl Reporter for Lines {
    fn info(&mut self, line: &str) {
        self.line(line);
    }
    fn warn(&mut self, line: &str) {
        self.line(&format!("WARNING {line}"));
    }
    fn progress_start(&mut self, total: u64) {
        self.total = total.max(1);
        self.last_decile = None;
    }
    fn progress(&mut self, sent: u64) {
        let decile = sent * 10 / self.total;
        if self.last_decile != Some(decile) {
            self.last_decile = Some(decile);
            self.line(&format!("Uploading: {}% ({sent} of {} bytes)", decile * 10, self.total));
        }
    }
    fn progress_done(&mut self) {}
}

/// An indicatif bar with bytes, speed and ETA.
pub struct Bar {
    bar: Option<ProgressBar>,
    prefix: String,
}

impl Reporter for Bar {
    fn info(&mut self, line: &str) {
        let line = format!("{}{line}", self.prefix);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
    fn warn(&mut self, line: &str) {
        self.info(&format!("WARNING {line}"));
    }
    fn progress_start(&mut self, total: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // The template is a constant; fall back to the default style if indicatif rejects it.
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix}Uploading [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(self.prefix.clone());
        self.bar = Some(bar);
    }
    fn progress(&mut self, sent: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(sent);
        }
    }
    fn progress_done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

/// Collects lines in memory (tests, and fleets that print one line per device).
#[derive(Default)]
pub struct Collect {
    pub lines: Vec<String>,
}

impl Reporter for Collect {
    fn info(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }
    fn warn(&mut self, line: &str) {
        self.lines.push(format!("WARNING {line}"));
    }
    fn progress_start(&mut self, _: u64) {}
    fn progress(&mut self, _: u64) {}
    fn progress_done(&mut self) {}
}
