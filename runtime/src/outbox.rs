//! The bytes a session owes its client, kept in order without allocation.
//!
//! Runs of equal bytes are stored as one entry, so the thousands of `47` chunk acks a large
//! version-2 upload produces between two polls take one slot. A whole session is at most about
//! 125 distinct runs (handshake, 64-byte nonce, statuses, the 36-byte running-image record and
//! the 4-byte resume offset of ferrota's extensions, one error byte), so a caller that never
//! polls still cannot overflow it.

const CAPACITY: usize = 128;

/// A FIFO of byte runs.
pub struct Outbox {
    runs: [(u8, u32); CAPACITY],
    head: usize,
    len: usize,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox { runs: [(0, 0); CAPACITY], head: 0, len: 0 }
    }
}

impl Outbox {
    /// Queues `count` copies of `byte`.
    pub fn push_run(&mut self, byte: u8, count: u32) {
        if count == 0 {
            return;
        }
        if self.len > 0 {
            let last = &mut self.runs[(self.head + self.len - 1) % CAPACITY];
            if last.0 == byte {
                last.1 = last.1.saturating_add(count);
                return;
            }
        }
        // The session's shape bounds the number of runs (module docs); dropping is unreachable.
        debug_assert!(self.len < CAPACITY, "outbox overflow");
        if self.len < CAPACITY {
            self.runs[(self.head + self.len) % CAPACITY] = (byte, count);
            self.len += 1;
        }
    }

    /// Queues one byte.
    pub fn push(&mut self, byte: u8) {
        self.push_run(byte, 1);
    }

    /// Queues a byte string.
    pub fn push_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    /// True when nothing is owed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves as many owed bytes as fit into `buf`; returns how many.
    pub fn pop_into(&mut self, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        while filled < buf.len() && self.len > 0 {
            let run = &mut self.runs[self.head];
            let take = (run.1 as usize).min(buf.len() - filled);
            buf[filled..filled + take].fill(run.0);
            filled += take;
            run.1 -= take as u32;
            if run.1 == 0 {
                self.head = (self.head + 1) % CAPACITY;
                self.len -= 1;
            }
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_merges_runs() {
        let mut o = Outbox::default();
        o.push(0x43);
        o.push_run(0x47, 3);
        o.push_run(0x47, 2);
        o.push_all(&[0x44, 0x45]);
        let mut buf = [0u8; 4];
        assert_eq!(o.pop_into(&mut buf), 4);
        assert_eq!(buf, [0x43, 0x47, 0x47, 0x47]);
        let mut rest = [0u8; 8];
        assert_eq!(o.pop_into(&mut rest), 4);
        assert_eq!(&rest[..4], &[0x47, 0x47, 0x44, 0x45]);
        assert!(o.is_empty());
    }
}
