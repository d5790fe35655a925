//! What a session reports to the automations (`on_begin`, `on_progress`, …).

/// ESPHome's `ota::OTAState`, with its numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OtaState {
    /// The update finished and the device is about to reboot.
    Completed = 0,
    /// Auth passed and the size was read.
    Started = 1,
    /// Data is arriving.
    InProgress = 2,
    /// An upload the client left (the web server's `/update` only; the native platform never
    /// fires it).
    Abort = 3,
    /// The session failed.
    Error = 4,
}

/// One notification from a session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// `on_begin`: after auth and the size, so port scanners do not trigger it.
    Started,
    /// `on_progress`: percent 0–100 of the received bytes, at most once a second.
    Progress(f32),
    /// `on_end`: the image is committed and the client acknowledged (or went away).
    Completed,
    /// `on_error`: the error byte.
    Error(u8),
    /// `on_abort`: the client left during a web upload; the partial image was dropped.
    Aborted,
}

impl Event {
    /// The `OTAState` this event stands for.
    pub fn state(&self) -> OtaState {
        match self {
            Event::Started => OtaState::Started,
            Event::Progress(_) => OtaState::InProgress,
            Event::Completed => OtaState::Completed,
            Event::Error(_) => OtaState::Error,
            Event::Aborted => OtaState::Abort,
        }
    }
}

/// The automations of an OTA component; every hook defaults to doing nothing.
pub trait OtaListener {
    /// `on_begin`.
    fn on_begin(&mut self) {}
    /// `on_progress` with `x` in percent.
    fn on_progress(&mut self, _x: f32) {}
    /// `on_end`.
    fn on_end(&mut self) {}
    /// `on_error` with the error byte.
    fn on_error(&mut self, _x: u8) {}
    /// `on_abort`.
    fn on_abort(&mut self) {}
    /// `on_state_change`, fired for every event after its specific hook.
    fn on_state_change(&mut self, _state: OtaState) {}
}

impl OtaListener for () {}

/// Calls the hooks `event` stands for.
pub fn dispatch(listener: &mut (impl OtaListener + ?Sized), event: Event) {
    match event {
        Event::Started => listener.on_begin(),
        Event::Progress(x) => listener.on_progress(x),
        Event::Completed => listener.on_end(),
        Event::Error(code) => listener.on_error(code),
        Event::Aborted => listener.on_abort(),
    }
    listener.on_state_change(event.state());
}

const CAPACITY: usize = 4;

/// A small FIFO of events; a new progress report replaces an unread one.
#[derive(Default)]
pub struct EventQueue {
    items: [Option<Event>; CAPACITY],
    head: usize,
    len: usize,
}

impl EventQueue {
    /// Queues `event`. A session emits at most Started, one Progress and one final event
    /// between polls, so the queue only ever needs to coalesce progress reports.
    pub fn push(&mut self, event: Event) {
        if self.len > 0 {
            let last = (self.head + self.len - 1) % CAPACITY;
            if let (Some(Event::Progress(_)), Event::Progress(_)) = (self.items[last], event) {
                self.items[last] = Some(event);
                return;
            }
        }
        if self.len == CAPACITY {
            // Drop the oldest rather than the newest: the final event matters most.
            self.head = (self.head + 1) % CAPACITY;
            self.len -= 1;
        }
        self.items[(self.head + self.len) % CAPACITY] = Some(event);
        self.len += 1;
    }

    /// Takes the oldest event.
    pub fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let event = self.items[self.head].take();
        self.head = (self.head + 1) % CAPACITY;
        self.len -= 1;
        event
    }
}
