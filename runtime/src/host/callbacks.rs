//! Closures for the OTA automations, for firmware that has an allocator.

use crate::events::{OtaListener, OtaState};

type Hooks<T> = Vec<Box<dyn FnMut(T)>>;

/// `on_begin`, `on_progress`, `on_end`, `on_error` and `on_state_change` automations; each
/// hook may be registered several times and runs in registration order.
#[derive(Default)]
pub struct Callbacks {
    begin: Hooks<()>,
    progress: Hooks<f32>,
    end: Hooks<()>,
    error: Hooks<u8>,
    state: Hooks<OtaState>,
}

impl Callbacks {
    /// Adds an `on_begin` automation.
    pub fn on_begin(&mut self, mut f: impl FnMut() + 'static) -> &mut Self {
        self.begin.push(Box::new(move |()| f()));
        self
    }
    /// Adds an `on_progress` automation; `x` is the percentage.
    pub fn on_progress(&mut self, f: impl FnMut(f32) + 'static) -> &mut Self {
        self.progress.push(Box::new(f));
        self
    }
    /// Adds an `on_end` automation.
    pub fn on_end(&mut self, mut f: impl FnMut() + 'static) -> &mut Self {
        self.end.push(Box::new(move |()| f()));
        self
    }
    /// Adds an `on_error` automation; `x` is the error byte.
    pub fn on_error(&mut self, f: impl FnMut(u8) + 'static) -> &mut Self {
        self.error.push(Box::new(f));
        self
    }
    /// Adds an `on_state_change` automation.
    pub fn on_state_change(&mut self, f: impl FnMut(OtaState) + 'static) -> &mut Self {
        self.state.push(Box::new(f));
        self
    }
}

fn run<T: Copy>(hooks: &mut Hooks<T>, value: T) {
    for hook in hooks {
        hook(value);
    }
}

impl OtaListener for Callbacks {
    fn on_begin(&mut self) {
        run(&mut self.begin, ());
    }
    fn on_progress(&mut self, x: f32) {
        run(&mut self.progress, x);
    }
    fn on_end(&mut self) {
        run(&mut self.end, ());
    }
    fn on_error(&mut self, x: u8) {
        run(&mut self.error, x);
    }
    fn on_state_change(&mut self, state: OtaState) {
        run(&mut self.state, state);
    }
}
