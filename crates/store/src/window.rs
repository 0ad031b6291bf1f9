//! The rows of one segment that a read can use, in the order it reads them.
//!
//! A segment's rows are sorted by (stream, timestamp, seq), so each stream's
//! rows are one sorted run. A read within `[lo, hi)` finds where each
//! selected stream's run enters and leaves that range by binary search and
//! then walks the runs merged by (timestamp, seq), forward or backward. A
//! page that starts deep into a segment therefore costs what it reads, not
//! the rows before its starting position, and a read can stop at any row.

use std::collections::{BinaryHeap, HashMap};

use crate::events::Key;
use crate::segments::SegmentRow;

fn key(row: &SegmentRow) -> Key {
    Key(row.timestamp, row.seq)
}

/// Each selected stream's rows within `[lo, hi)`, with the stream's name.
fn runs<'r>(
    rows: &'r [SegmentRow],
    streams: &'r HashMap<u64, String>,
    lo: Key,
    hi: Key,
) -> Vec<(&'r String, &'r [SegmentRow])> {
    let mut runs = Vec::new();
    let mut rest = rows;
    while let Some(first) = rest.first() {
        let id = first.stream_id;
        let len = rest.partition_point(|r| r.stream_id == id);
        let (run, after) = rest.split_at(len);
        rest = after;
        let Some(name) = streams.get(&id) else {
            continue;
        };
        let start = run.partition_point(|r| key(r) < lo);
        let end = run.partition_point(|r| key(r) < hi);
        if start < end {
            runs.push((name, &run[start..end]));
        }
    }
    runs
}

/// The next row of one run, ordered so that the heap's greatest is the
/// row to read next.
#[derive(PartialEq, Eq)]
struct Head {
    key: Key,
    run: usize,
    forward: bool,
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> std::cmp::Ordering {
        let order = self.key.cmp(&other.key).then(self.run.cmp(&other.run));
        if self.forward {
            order.reverse()
        } else {
            order
        }
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The rows of a segment within `[lo, hi)` of the streams in `streams`
/// (id → name), in (timestamp, seq) order, or the reverse when `forward`
/// is false, each with its stream's name.
pub(crate) struct Window<'r> {
    runs: Vec<(&'r String, &'r [SegmentRow])>,
    heads: BinaryHeap<Head>,
    forward: bool,
}

impl<'r> Window<'r> {
    /// The window of `rows` (one segment's, in segment order).
    pub(crate) fn new(
        rows: &'r [SegmentRow],
        streams: &'r HashMap<u64, String>,
        lo: Key,
        hi: Key,
        forward: bool,
    ) -> Window<'r> {
        let runs = runs(rows, streams, lo, hi);
        let heads = (0..runs.len())
            .map(|run| Head {
                key: key(Self::end(runs[run].1, forward)),
                run,
                forward,
            })
            .collect();
        Window {
            runs,
            heads,
            forward,
        }
    }

    /// The row a run gives next (runs in the window are never empty).
    fn end(run: &'r [SegmentRow], forward: bool) -> &'r SegmentRow {
        let row = if forward { run.first() } else { run.last() };
        row.expect("runs in a window are not empty")
    }
}

impl<'r> Iterator for Window<'r> {
    type Item = (&'r String, &'r SegmentRow);

    fn next(&mut self) -> Option<(&'r String, &'r SegmentRow)> {
        let mut head = self.heads.peek_mut()?;
        let (name, run) = &mut self.runs[head.run];
        let row = Self::end(run, self.forward);
        *run = if self.forward {
            &run[1..]
        } else {
            &run[..run.len() - 1]
        };
        if run.is_empty() {
            std::collections::binary_heap::PeekMut::pop(head);
        } else {
            head.key = key(Self::end(run, self.forward));
        }
        Some((name, row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stream_id: u64, timestamp: i64, seq: u64) -> SegmentRow {
        SegmentRow::without_message(stream_id, timestamp, seq)
    }

    /// A row's identity (sequence numbers are unique).
    fn id(r: &SegmentRow) -> String {
        format!("{}/{}/{}", r.stream_id, r.timestamp, r.seq)
    }

    /// What a window should give: the rows in range of the selected
    /// streams, sorted, found the slow way.
    fn expected(
        rows: &[SegmentRow],
        streams: &HashMap<u64, String>,
        lo: Key,
        hi: Key,
        forward: bool,
    ) -> Vec<String> {
        let mut keep: Vec<&SegmentRow> = rows
            .iter()
            .filter(|r| streams.contains_key(&r.stream_id) && lo <= key(r) && key(r) < hi)
            .collect();
        keep.sort_by_key(|r| key(r));
        if !forward {
            keep.reverse();
        }
        keep.iter().map(|r| id(r)).collect()
    }

    #[test]
    fn gives_the_rows_in_range_in_key_order_both_ways() {
        // Four streams with interleaved times, repeated timestamps and one
        // stream (3) that is not selected.
        let mut rows = Vec::new();
        let mut seq = 0;
        for t in 0..60i64 {
            for stream in [1u64, 2, 3, 4] {
                if (t + stream as i64) % 3 != 0 {
                    seq += 1;
                    rows.push(row(stream, t / 2, seq));
                }
            }
        }
        rows.sort_by_key(|r| (r.stream_id, r.timestamp, r.seq));
        let streams: HashMap<u64, String> =
            [1, 2, 4].iter().map(|id| (*id, format!("s{id}"))).collect();
        let keys: Vec<Key> = rows.iter().map(key).collect();
        let bounds = [
            Key(i64::MIN, 0),
            keys[3],
            keys[17],
            Key(keys[40].0, keys[40].1 + 1),
            Key(12, 0),
            Key(i64::MAX, u64::MAX),
        ];
        let mut checked = 0;
        for &lo in &bounds {
            for &hi in &bounds {
                for forward in [true, false] {
                    let got: Vec<String> = Window::new(&rows, &streams, lo, hi, forward)
                        .map(|(name, r)| {
                            assert_eq!(*name, format!("s{}", r.stream_id));
                            id(r)
                        })
                        .collect();
                    let want = expected(&rows, &streams, lo, hi, forward);
                    checked += want.len();
                    assert_eq!(got, want, "lo {lo:?} hi {hi:?} forward {forward}");
                }
            }
        }
        assert!(checked > 500, "the ranges select rows");
    }
}
