//! [`Lines`]: log lines rendered into one shared buffer.
//!
//! A batch of requests writes thousands of lines. Rendering each into its
//! own `String` cost an allocation and a free per line, and every message
//! was then moved through two vectors on its way to the store. Lines are
//! instead written one after another into a single text buffer, each
//! remembered as its timestamp and byte range; the store reads them as
//! borrowed [`Event`]s.

use gatewatch_store::EventInput;

/// Most text [`Lines::reserve_like`] reserves ahead.
pub const MAX_RESERVE: usize = 16 << 20;

/// Rendered lines: one text buffer and each line's place in it.
#[derive(Debug, Default, Clone)]
pub struct Lines {
    text: String,
    slots: Vec<Slot>,
}

/// One line's timestamp and byte range in the buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    timestamp: i64,
    start: u32,
    end: u32,
}

/// A line borrowed from [`Lines`], as the store takes it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Event time, ms since the epoch.
    pub timestamp: i64,
    /// The message.
    pub message: &'a str,
}

impl EventInput for Event<'_> {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }

    fn message(&self) -> &str {
        self.message
    }
}

impl Lines {
    /// No lines.
    pub fn new() -> Lines {
        Lines::default()
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a line with the given text.
    pub fn push(&mut self, timestamp: i64, message: &str) {
        let start = self.text.len();
        self.text.push_str(message);
        self.end_line(timestamp, start);
    }

    /// The buffer to write the next line into, after [`Lines::start`].
    pub fn text(&mut self) -> &mut String {
        &mut self.text
    }

    /// Where the next line starts; write it with [`Lines::text`] and close
    /// it with [`Lines::end_line`].
    pub fn start(&self) -> usize {
        self.text.len()
    }

    /// Closes the line written since `start` (from [`Lines::start`]).
    pub fn end_line(&mut self, timestamp: i64, start: usize) {
        // Offsets are u32: a buffer past 4 GiB would need a batch of over
        // a million full-size events, which the writer never builds.
        debug_assert!(self.text.len() <= u32::MAX as usize);
        self.slots.push(Slot {
            timestamp,
            start: start as u32,
            end: self.text.len() as u32,
        });
    }

    /// The lines in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        self.slots.iter().map(|s| Event {
            timestamp: s.timestamp,
            message: &self.text[s.start as usize..s.end as usize],
        })
    }

    /// Makes room for the lines of `more` records like the `done` ones
    /// already held, so a batch's buffer is not copied each time it
    /// outgrows itself. The text reserved is capped at [`MAX_RESERVE`]
    /// (lines of a stage without the 1 KB cut can be long).
    pub fn reserve_like(&mut self, done: usize, more: usize) {
        if done == 0 || more == 0 {
            return;
        }
        let text = (self.text.len() / done)
            .saturating_mul(more)
            .min(MAX_RESERVE);
        self.text.reserve(text);
        self.slots
            .reserve((self.slots.len() / done).saturating_mul(more));
    }

    /// Removes every line, keeping the buffers' room.
    pub fn clear(&mut self) {
        self.text.clear();
        self.slots.clear();
    }

    /// Bytes of text the buffer holds without growing.
    pub fn capacity(&self) -> usize {
        self.text.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn lines_written_in_place_read_back_in_order() {
        let mut lines = Lines::new();
        lines.push(5, "first");
        let start = lines.start();
        lines.text().push_str("sec");
        lines.text().push_str("ond");
        lines.end_line(3, start);
        lines.push(9, "");
        let got: Vec<(i64, &str)> = lines.iter().map(|e| (e.timestamp, e.message)).collect();
        assert_eq!(got, vec![(5, "first"), (3, "second"), (9, "")]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines.text.len(), "firstsecond".len());
        lines.reserve_like(3, 1_000);
        assert!(lines.text.capacity() >= 11 + 3 * 1_000);
        assert!(lines.slots.capacity() >= 3 + 1_000);
        assert_eq!(lines.len(), 3);
        let room = lines.capacity();
        lines.clear();
        assert!(lines.is_empty() && lines.text.is_empty());
        assert_eq!(lines.capacity(), room);
    }
}
