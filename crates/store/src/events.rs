//! Events: PutLogEvents with CloudWatch's validation, stream reads for
//! GetLogEvents, merged multi-stream reads for FilterLogEvents, retention.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;

use crate::blocks::{self, Block, Ordered};
use crate::catalog::stream_write;
use crate::commit::{durable, Space, Write};
use crate::error::{StoreError, StoreResult};
use crate::model::{EventInput, LogEvent, PutLogEventsOutcome, RejectedLogEventsInfo, Scope};
use crate::segments::SegmentMeta;
use crate::window::Window;
use crate::{keys, names, now_ms, Store};
use fjall::Readable;
use std::collections::HashMap;

/// Bytes counted per event on top of its message (CloudWatch's rule).
pub const EVENT_OVERHEAD: usize = 26;
/// Largest PutLogEvents batch, counted as messages + 26 bytes per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Largest event (message + overhead).
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// Most events per PutLogEvents call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Largest time span of one batch.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3_600_000;
/// Most bytes of messages returned in one page.
pub const MAX_PAGE_BYTES: usize = 1_048_576;

/// A position between events of a stream, or of a merged set of streams:
/// the (timestamp, seq) of an event. Reads continue strictly after (forward)
/// or strictly before (backward) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// Event timestamp.
    pub timestamp: i64,
    /// Event sequence number.
    pub seq: u64,
}

impl Cursor {
    /// The position of an event.
    pub fn of(event: &LogEvent) -> Cursor {
        Cursor {
            timestamp: event.timestamp,
            seq: event.seq,
        }
    }
}

/// Which streams of a group a filter reads.
#[derive(Debug, Clone)]
pub enum StreamSelector {
    /// Every stream.
    All,
    /// These streams (missing names are ignored).
    Names(Vec<String>),
    /// Streams whose name starts with this.
    Prefix(String),
}

/// An event position as an ordered (timestamp, seq) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key(pub(crate) i64, pub(crate) u64);

/// Cold-tier events of one read, and how far they are complete.
pub(crate) struct ColdPage {
    events: Vec<LogEvent>,
    /// When the read stopped early: every event at or before this key was
    /// considered (forward reads).
    bound: Option<Key>,
}

/// Keeps a page within [`MAX_PAGE_BYTES`], dropping from the far end.
fn cap_bytes(mut events: Vec<LogEvent>, forward: bool) -> Vec<LogEvent> {
    let total: usize = events
        .iter()
        .map(|e| e.message.len() + EVENT_OVERHEAD)
        .sum();
    if total <= MAX_PAGE_BYTES {
        return events;
    }
    let mut bytes = 0;
    let mut keep = 0;
    let order: Vec<usize> = if forward {
        (0..events.len()).collect()
    } else {
        (0..events.len()).rev().collect()
    };
    for i in order {
        bytes += events[i].message.len() + EVENT_OVERHEAD;
        if bytes > MAX_PAGE_BYTES && keep > 0 {
            break;
        }
        keep += 1;
    }
    if forward {
        events.truncate(keep);
    } else {
        events.drain(..events.len() - keep);
    }
    events
}

/// A merge candidate: (timestamp, seq, stream index, ingestion time, message).
type Merged = (i64, u64, usize, i64, String);

/// One page of merged events.
#[derive(Debug, Clone)]
pub struct FilterPage {
    /// Matching events in (timestamp, seq) order.
    pub events: Vec<LogEvent>,
    /// Where the next page starts, when more events may follow.
    pub next: Option<Cursor>,
    /// Names of the streams searched.
    pub searched_streams: Vec<String>,
}

fn validate_batch<E: EventInput>(events: &[E]) -> StoreResult<()> {
    if events.is_empty() {
        return Err(StoreError::constraint(
            "[]",
            "logEvents",
            "Member must have length greater than or equal to 1",
        ));
    }
    if events.len() > MAX_BATCH_EVENTS {
        return Err(StoreError::constraint(
            &format!("{} events", events.len()),
            "logEvents",
            "Member must have length less than or equal to 10000",
        ));
    }
    let total = validate_events(events)?;
    if total > MAX_BATCH_BYTES {
        return Err(StoreError::InvalidParameter(format!(
            "Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    check_order(events)
}

/// The checks PutLogEvents makes on each event. Returns the events' size as CloudWatch counts it.
fn validate_events<E: EventInput>(events: &[E]) -> StoreResult<usize> {
    let mut total = 0usize;
    for (i, e) in events.iter().enumerate() {
        if e.message().is_empty() {
            return Err(StoreError::constraint(
                "",
                &format!("logEvents.{}.member.message", i + 1),
                "Member must have length greater than or equal to 1",
            ));
        }
        if e.timestamp() < 0 {
            return Err(StoreError::constraint(
                &e.timestamp().to_string(),
                &format!("logEvents.{}.member.timestamp", i + 1),
                "Member must have value greater than or equal to 0",
            ));
        }
        let size = e.message().len() + EVENT_OVERHEAD;
        if size > MAX_EVENT_BYTES {
            return Err(StoreError::InvalidParameter(format!(
                "Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
            )));
        }
        total += size;
    }
    Ok(total)
}

/// PutLogEvents' rule that a call's events are in chronological order.
fn check_order<E: EventInput>(events: &[E]) -> StoreResult<()> {
    if events
        .windows(2)
        .any(|w| w[1].timestamp() < w[0].timestamp())
    {
        return Err(StoreError::InvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order.".into(),
        ));
    }
    Ok(())
}

/// Which checks a write still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// A PutLogEvents call, already checked as a whole by `validate_batch`;
    /// its 24-hour span rule applies when the accepted events are known.
    Done,
    /// The in-process path: each event's checks and the order, per
    /// destination, without the wire API's per-call limits.
    PerEvent,
}

/// Events queued by [`Store::append_queued`], not yet known to be durable.
#[must_use = "the outcome is known only once durable"]
pub struct Appended {
    done: Option<tokio::sync::oneshot::Receiver<StoreResult<()>>>,
    outcomes: Vec<StoreResult<PutLogEventsOutcome>>,
}

impl Appended {
    /// Waits until the events are durable; one outcome per destination.
    pub async fn durable(self) -> Vec<StoreResult<PutLogEventsOutcome>> {
        let mut outcomes = self.outcomes;
        if let Some(done) = self.done {
            if let Err(e) = durable(done).await {
                for o in outcomes.iter_mut().filter(|o| o.is_ok()) {
                    *o = Err(e.clone());
                }
            }
        }
        outcomes
    }
}

impl Store {
    /// PutLogEvents: validates the batch as CloudWatch does, drops too-old,
    /// expired and too-new events (reporting their indexes), and returns once
    /// the accepted events are durable.
    pub async fn put_log_events<E: EventInput>(
        &self,
        scope: &Scope,
        group: &str,
        stream: &str,
        events: &[E],
    ) -> StoreResult<PutLogEventsOutcome> {
        names::log_group_name(group, "logGroupName")?;
        names::log_stream_name(stream, "logStreamName")?;
        validate_batch(events)?;
        let outcome = self
            .stage_and_queue(scope, &[(group, stream, events)], Checks::Done)
            .durable()
            .await
            .pop();
        outcome.expect("one outcome per destination")
    }

    /// Appends events to several streams in one durable commit: the
    /// in-process writer's path (the log writer hands over everything one
    /// batch of requests produced at once, so it pays for one fsync, not one
    /// per stream and per PutLogEvents-sized chunk). Each destination's
    /// events are checked as PutLogEvents checks each event (non-empty, not
    /// negative, at most 1 MB, chronological) but not against the wire
    /// API's per-call limits (10,000 events, 1 MB, 24 hours), which exist
    /// for the HTTP protocol. A destination that fails its checks (or whose
    /// group or stream is gone) gets its error; the others are written.
    pub async fn append<E: EventInput>(
        &self,
        scope: &Scope,
        destinations: &[(&str, &str, &[E])],
    ) -> Vec<StoreResult<PutLogEventsOutcome>> {
        self.append_queued(scope, destinations).durable().await
    }

    /// [`Store::append`] in two steps: the events are checked, ordered and
    /// queued for the committer now (later calls commit after them), and
    /// the returned [`Appended`] resolves once they are durable. A writer can
    /// thus prepare its next batch while this one is being synced.
    pub fn append_queued<E: EventInput>(
        &self,
        scope: &Scope,
        destinations: &[(&str, &str, &[E])],
    ) -> Appended {
        self.stage_and_queue(scope, destinations, Checks::PerEvent)
    }

    /// The one write path of events: under the catalog lock, stages each
    /// destination's events (see [`Store::stage_events`]) and queues all
    /// their writes as one commit.
    fn stage_and_queue<E: EventInput>(
        &self,
        scope: &Scope,
        destinations: &[(&str, &str, &[E])],
        checks: Checks,
    ) -> Appended {
        let now = now_ms();
        let mut catalog = self.write();
        let mut writes = Vec::new();
        let outcomes: Vec<StoreResult<PutLogEventsOutcome>> = destinations
            .iter()
            .map(|(group, stream, events)| {
                if checks == Checks::PerEvent {
                    validate_events(events)?;
                    check_order(events)?;
                }
                self.stage_events(
                    &mut catalog,
                    scope,
                    group,
                    stream,
                    events,
                    now,
                    checks == Checks::Done,
                    &mut writes,
                )
            })
            .collect();
        let done = (!writes.is_empty()).then(|| self.enqueue(writes));
        Appended { done, outcomes }
    }

    /// Under the catalog lock: decides which of a stream's events are
    /// accepted, appends the writes that store them to `writes` and updates
    /// the stream's metadata. `span_limit` applies PutLogEvents' 24-hour rule.
    #[allow(clippy::too_many_arguments)]
    fn stage_events<E: EventInput>(
        &self,
        catalog: &mut crate::Catalog,
        scope: &Scope,
        group: &str,
        stream: &str,
        events: &[E],
        now: i64,
        span_limit: bool,
        writes: &mut Vec<Write>,
    ) -> StoreResult<PutLogEventsOutcome> {
        let config = &self.inner.config;
        let entry = catalog.group_mut(scope, group)?;
        let retention_cutoff = entry
            .group
            .retention_in_days
            .map(|d| now - i64::from(d) * 86_400_000);
        let group_id = entry.group.id;
        let log_stream = entry
            .streams
            .get_mut(stream)
            .ok_or_else(StoreError::stream_not_found)?;

        // Events are chronological, so refusals are a prefix and a suffix.
        let too_old_end = events.partition_point(|e| e.timestamp() < now - config.max_event_age_ms);
        let expired_end =
            retention_cutoff.map_or(0, |c| events.partition_point(|e| e.timestamp() < c));
        let first_ok = too_old_end.max(expired_end);
        let too_new_start = events.partition_point(|e| e.timestamp() <= now + config.max_future_ms);
        let accepted = if first_ok < too_new_start {
            &events[first_ok..too_new_start]
        } else {
            &[][..]
        };
        if let (Some(first), Some(last), true) = (accepted.first(), accepted.last(), span_limit) {
            if last.timestamp() - first.timestamp() > MAX_BATCH_SPAN_MS {
                return Err(StoreError::InvalidParameter(
                    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.".into(),
                ));
            }
        }
        let rejected = RejectedLogEventsInfo {
            too_new_log_event_start_index: (too_new_start < events.len()).then_some(too_new_start),
            too_old_log_event_end_index: (too_old_end > 0).then_some(too_old_end),
            expired_log_event_end_index: (expired_end > 0 && expired_end > too_old_end)
                .then_some(expired_end),
        };

        let first_seq = self
            .inner
            .next_seq
            .fetch_add(accepted.len() as u64, Ordering::SeqCst);
        // One engine entry per run of events within a second (see blocks).
        let mut seq = first_seq;
        for run in blocks::runs(accepted) {
            let key = keys::event(log_stream.id, run[0].timestamp(), seq);
            writes.push(Write::Put(
                Space::Events,
                key.to_vec(),
                blocks::encode(now, run),
            ));
            seq += run.len() as u64;
        }
        if let (Some(first), Some(last)) = (accepted.first(), accepted.last()) {
            log_stream.first_event_timestamp = Some(
                log_stream
                    .first_event_timestamp
                    .map_or(first.timestamp(), |t| t.min(first.timestamp())),
            );
            log_stream.last_event_timestamp = Some(
                log_stream
                    .last_event_timestamp
                    .map_or(last.timestamp(), |t| t.max(last.timestamp())),
            );
            log_stream.last_ingestion_time = Some(now);
            log_stream.stored_bytes += accepted
                .iter()
                .map(|e| e.message().len() as u64)
                .sum::<u64>();
            writes.push(stream_write(group_id, log_stream));
            let next = first_seq + accepted.len() as u64;
            writes.push(Write::Put(
                Space::Meta,
                keys::NEXT_SEQ.to_vec(),
                fjall::Slice::new(&next.to_be_bytes()),
            ));
        }
        Ok(PutLogEventsOutcome {
            next_sequence_token: format!("{:056}", first_seq + accepted.len() as u64),
            rejected,
            accepted: accepted.len(),
        })
    }

    fn retention_cutoff(&self, days: Option<u32>) -> Option<i64> {
        days.map(|d| now_ms() - i64::from(d) * 86_400_000)
    }

    /// Reads one stream for GetLogEvents: up to `limit` events (and 1 MB)
    /// with `start <= timestamp < end`, forward after `position` or backward
    /// before it, from both tiers. Always returned in ascending order.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_stream(
        &self,
        scope: &Scope,
        group: &str,
        stream: &str,
        start: Option<i64>,
        end: Option<i64>,
        position: Option<Cursor>,
        forward: bool,
        limit: usize,
    ) -> StoreResult<Vec<LogEvent>> {
        let (id, cutoff, segments, snapshot) = {
            let catalog = self.read();
            let entry = catalog.group(scope, group)?;
            let s = entry
                .streams
                .get(stream)
                .ok_or_else(StoreError::stream_not_found)?;
            let segments: Vec<SegmentMeta> = entry
                .segments
                .iter()
                .filter(|m| m.has_stream(s.id))
                .cloned()
                .collect();
            // The hot tier is read from a snapshot taken with the segment
            // list: a compaction committing meanwhile cannot hide events
            // from both.
            (
                s.id,
                self.retention_cutoff(entry.group.retention_in_days),
                segments,
                self.inner.db.snapshot(),
            )
        };
        // Bounds as (timestamp, seq): `lo` inclusive, `hi` exclusive.
        let mut lo = Key(start.unwrap_or(i64::MIN).max(cutoff.unwrap_or(i64::MIN)), 0);
        let mut hi = Key(
            end.unwrap_or(i64::MAX),
            if end.is_some() { 0 } else { u64::MAX },
        );
        if let Some(p) = position {
            if forward {
                lo = lo.max(Key(p.timestamp, p.seq.saturating_add(1)));
            } else {
                hi = hi.min(Key(p.timestamp, p.seq));
            }
        }
        if lo >= hi {
            return Ok(Vec::new());
        }
        let names: HashMap<u64, String> = HashMap::from([(id, stream.to_string())]);
        let hot = self.read_hot(&snapshot, id, stream, lo, hi, forward, limit)?;
        let cold = self
            .read_segments(
                &segments,
                &names,
                lo,
                hi,
                forward,
                limit,
                usize::MAX,
                &|_| true,
                &[],
            )
            .await?;
        let mut all = hot;
        all.extend(cold.events);
        all.sort_by_key(|e| (e.timestamp, e.seq));
        // While a compaction commits, its events can be in both tiers.
        all.dedup_by_key(|e| (e.timestamp, e.seq));
        if forward {
            all.truncate(limit);
        } else if all.len() > limit {
            all.drain(..all.len() - limit);
        }
        Ok(cap_bytes(all, forward))
    }

    /// The hot-tier part of [`Store::read_stream`].
    #[allow(clippy::too_many_arguments)]
    fn read_hot(
        &self,
        snapshot: &fjall::Snapshot,
        id: u64,
        stream: &str,
        lo: Key,
        hi: Key,
        forward: bool,
        limit: usize,
    ) -> StoreResult<Vec<LogEvent>> {
        let Some(range) = blocks::key_range(id, lo, hi) else {
            return Ok(Vec::new());
        };
        let iter = snapshot.range(&self.inner.events, range);
        let event = |e: blocks::HotEvent| LogEvent {
            log_stream_name: stream.to_string(),
            timestamp: e.timestamp,
            ingestion_time: e.ingestion_time,
            message: e.message,
            seq: e.seq,
        };
        let mut out = Vec::new();
        if forward {
            for e in Ordered::new(blocks::parsed(iter), lo, hi, true).take(limit) {
                out.push(event(e?));
            }
        } else {
            for e in Ordered::new(blocks::parsed(iter.rev()), lo, hi, false).take(limit) {
                out.push(event(e?));
            }
            out.reverse();
        }
        Ok(out)
    }

    /// Events of `streams` (id → name) from the cold tier within `[lo, hi)`
    /// that satisfy `keep`: the first (`forward`) or last `limit` of them.
    /// Segments are opened in time order and only while they can still
    /// contribute; `cut` is set when more matching events may exist. A
    /// segment whose id filter lacks a UUID-shaped part of one of the
    /// `required` texts (see [`Store::filter_events`]) is not opened.
    #[allow(clippy::too_many_arguments)]
    async fn read_segments(
        &self,
        segments: &[SegmentMeta],
        streams: &HashMap<u64, String>,
        lo: Key,
        hi: Key,
        forward: bool,
        limit: usize,
        max_scanned: usize,
        keep: &(dyn Fn(&str) -> bool + Sync),
        required: &[&str],
    ) -> StoreResult<ColdPage> {
        // UUID-shaped runs of the required texts: every kept message holds
        // them where a segment's id filter has seen them, so a segment whose
        // filter lacks one is passed over undecoded.
        let ids: Vec<&str> = required
            .iter()
            .flat_map(|r| crate::segments::uuid_runs(r))
            .collect();
        let mut candidates: Vec<&SegmentMeta> = segments
            .iter()
            .filter(|m| m.overlaps(lo.0, hi.0) && streams.keys().any(|id| m.has_stream(*id)))
            .collect();
        if forward {
            candidates.sort_by_key(|m| m.min_ts);
        } else {
            candidates.sort_by_key(|m| std::cmp::Reverse(m.max_ts));
        }
        let mut acc: Vec<LogEvent> = Vec::new();
        let mut scanned = 0usize;
        // Index of the first segment not read, when the read stops early.
        let mut stopped_at: Option<usize> = None;
        // The last row examined when the scan budget runs out inside a
        // segment: that segment's events are complete up to it.
        let mut budget_bound = None;
        debug_assert!(
            forward || max_scanned == usize::MAX,
            "budgets are for forward reads"
        );
        for (n, meta) in candidates.iter().enumerate() {
            if acc.len() >= limit {
                // Later segments only hold later (earlier, going backward)
                // events: stop once they cannot beat the boundary event.
                acc.sort_by_key(|e| (e.timestamp, e.seq));
                let done = if forward {
                    acc[limit - 1].timestamp < meta.min_ts
                } else {
                    acc[acc.len() - limit].timestamp > meta.max_ts
                };
                if done {
                    stopped_at = Some(n);
                    break;
                }
            }
            if scanned >= max_scanned {
                stopped_at = Some(n);
                break;
            }
            if !self.inner.segment_files.may_hold(meta, &ids).await {
                continue;
            }
            let rows = self
                .inner
                .segment_files
                .rows_within(meta, lo.0, hi.0)
                .await?;
            // The segment's rows in the range, in read order: this segment
            // can add at most `limit + 1` events to the page (one past the
            // limit tells the caller there are more), and the scan budget
            // can end the read at any row.
            let (mut taken, mut last_examined) = (0, None);
            let mut window = Window::new(&rows.rows, streams, lo, hi, forward).peekable();
            while taken <= limit {
                let Some((name, r)) = window.next_if(|_| scanned < max_scanned) else {
                    break;
                };
                scanned += 1;
                last_examined = Some(Key(r.timestamp, r.seq));
                let message = rows.message(r);
                if keep(message) {
                    taken += 1;
                    acc.push(LogEvent {
                        log_stream_name: name.clone(),
                        timestamp: r.timestamp,
                        ingestion_time: r.ingestion_time,
                        message: message.to_string(),
                        seq: r.seq,
                    });
                }
            }
            if taken <= limit && window.peek().is_some() {
                // Out of budget inside this segment: its events are complete
                // up to the last one examined, and later segments are unread.
                budget_bound = last_examined;
                stopped_at = Some(n + 1);
                break;
            }
        }
        acc.sort_by_key(|e| (e.timestamp, e.seq));
        // Segments overlap in time, so an unread one may hold events before
        // ones already collected: only keys before the earliest unread
        // segment are complete.
        let mut bound = stopped_at
            .and_then(|n| candidates[n..].iter().map(|m| m.min_ts).min())
            .map(|ts| {
                if ts == i64::MIN {
                    Key(i64::MIN, 0)
                } else {
                    Key(ts - 1, u64::MAX)
                }
            });
        if let Some(b) = budget_bound {
            bound = Some(bound.map_or(b, |k| k.min(b)));
        }
        if acc.len() > limit {
            if forward {
                acc.truncate(limit);
                let last = acc
                    .last()
                    .map(|e| Key(e.timestamp, e.seq))
                    .expect("limit >= 1");
                bound = Some(bound.map_or(last, |b| b.min(last)));
            } else {
                acc.drain(..acc.len() - limit);
            }
        }
        if let (Some(b), true) = (bound, forward) {
            acc.retain(|e| Key(e.timestamp, e.seq) <= b);
        }
        Ok(ColdPage { events: acc, bound })
    }

    /// Reads several streams of a group merged in (timestamp, seq) order for
    /// FilterLogEvents, from both tiers: events with `start <= timestamp <=
    /// end` after `after` that satisfy `keep`, at most `limit` (and 1 MB) per
    /// page. At most about `max_scanned` events are examined per call; a page
    /// cut short by that budget still carries `next`. `required` are texts
    /// every event `keep` accepts contains (see
    /// [`FilterPattern::required_literals`](crate::filter::FilterPattern::required_literals);
    /// may be empty): hot-tier blocks whose bytes lack one are passed over
    /// without reading their events, so a search for a rare text (a request
    /// id) costs a byte search per block rather than a look at every event;
    /// segments are passed over undecoded when their id filter lacks a
    /// UUID-shaped part of one. Passed-over events do not count against
    /// `max_scanned`.
    #[allow(clippy::too_many_arguments)]
    pub async fn filter_events(
        &self,
        scope: &Scope,
        group: &str,
        streams: &StreamSelector,
        start: Option<i64>,
        end: Option<i64>,
        after: Option<Cursor>,
        limit: usize,
        max_scanned: usize,
        keep: &(dyn Fn(&str) -> bool + Sync),
        required: &[&str],
    ) -> StoreResult<FilterPage> {
        let (selected, cutoff, segments, snapshot) = {
            let catalog = self.read();
            let entry = catalog.group(scope, group)?;
            let selected: Vec<(u64, String)> = entry
                .streams
                .values()
                .filter(|s| match streams {
                    StreamSelector::All => true,
                    StreamSelector::Names(names) => names.iter().any(|n| n == &s.name),
                    StreamSelector::Prefix(p) => s.name.starts_with(p.as_str()),
                })
                .map(|s| (s.id, s.name.clone()))
                .collect();
            (
                selected,
                self.retention_cutoff(entry.group.retention_in_days),
                entry.segments.clone(),
                self.inner.db.snapshot(),
            )
        };
        let mut lo = Key(start.unwrap_or(i64::MIN).max(cutoff.unwrap_or(i64::MIN)), 0);
        if let Some(a) = after {
            lo = lo.max(Key(a.timestamp, a.seq.saturating_add(1)));
        }
        let hi = match end {
            Some(e) if e < i64::MAX => Key(e + 1, 0),
            _ => Key(i64::MAX, u64::MAX),
        };
        let names: HashMap<u64, String> = selected.iter().cloned().collect();
        let hot = self.filter_hot(
            &snapshot,
            &selected,
            lo,
            hi,
            limit,
            max_scanned,
            keep,
            required,
        )?;
        let cold = if lo < hi {
            self.read_segments(
                &segments,
                &names,
                lo,
                hi,
                true,
                limit,
                max_scanned,
                keep,
                required,
            )
            .await?
        } else {
            ColdPage {
                events: Vec::new(),
                bound: None,
            }
        };
        // Only events up to where every cut-short source got may be returned.
        let mut bound: Option<Key> = hot.next.map(|c| Key(c.timestamp, c.seq));
        if let Some(k) = cold.bound {
            bound = Some(bound.map_or(k, |b| b.min(k)));
        }
        let mut merged = hot.events;
        merged.extend(cold.events);
        merged.sort_by_key(|e| (e.timestamp, e.seq));
        merged.dedup_by_key(|e| (e.timestamp, e.seq));
        if let Some(b) = bound {
            merged.retain(|e| Key(e.timestamp, e.seq) <= b);
        }
        let more_than_limit = merged.len() > limit;
        merged.truncate(limit);
        let before_cap = merged.len();
        let merged = cap_bytes(merged, true);
        let next = if more_than_limit || merged.len() < before_cap {
            merged.last().map(Cursor::of)
        } else {
            bound.map(|b| Cursor {
                timestamp: b.0,
                seq: b.1,
            })
        };
        Ok(FilterPage {
            next,
            events: merged,
            searched_streams: selected.into_iter().map(|(_, n)| n).collect(),
        })
    }

    /// The hot-tier part of [`Store::filter_events`].
    #[allow(clippy::too_many_arguments)]
    fn filter_hot(
        &self,
        snapshot: &fjall::Snapshot,
        selected: &[(u64, String)],
        lo: Key,
        hi: Key,
        limit: usize,
        max_scanned: usize,
        keep: &(dyn Fn(&str) -> bool + Sync),
        required: &[&str],
    ) -> StoreResult<FilterPage> {
        type StreamRead = Ordered<Box<dyn Iterator<Item = StoreResult<Block>>>>;
        let needles: std::sync::Arc<[memchr::memmem::Finder<'static>]> = required
            .iter()
            .map(|r| memchr::memmem::Finder::new(r.as_bytes()).into_owned())
            .collect();
        let mut iters: Vec<StreamRead> = Vec::with_capacity(selected.len());
        for (id, _) in selected {
            let blocks: Box<dyn Iterator<Item = StoreResult<Block>>> =
                match blocks::key_range(*id, lo, hi) {
                    Some(range) => {
                        let needles = std::sync::Arc::clone(&needles);
                        Box::new(
                            blocks::parsed(snapshot.range(&self.inner.events, range)).filter(
                                move |b| b.as_ref().map_or(true, |b| b.holds_all(&needles)),
                            ),
                        )
                    }
                    None => Box::new(std::iter::empty()),
                };
            iters.push(Ordered::new(blocks, lo, hi, true));
        }
        // k-way merge by (timestamp, seq).
        let mut heap = BinaryHeap::new();
        let next_of = |i: usize, iters: &mut Vec<StreamRead>| -> StoreResult<Option<Merged>> {
            match iters[i].next() {
                None => Ok(None),
                Some(e) => {
                    let e = e?;
                    Ok(Some((e.timestamp, e.seq, i, e.ingestion_time, e.message)))
                }
            }
        };
        for i in 0..iters.len() {
            if let Some(first) = next_of(i, &mut iters)? {
                heap.push(Reverse(first));
            }
        }
        let mut events = Vec::new();
        let mut bytes = 0usize;
        let mut scanned = 0usize;
        let mut last: Option<Cursor> = None;
        let mut more = false;
        while let Some(Reverse((ts, seq, idx, ing, msg))) = heap.pop() {
            if events.len() >= limit
                || scanned >= max_scanned
                || (bytes + msg.len() + EVENT_OVERHEAD > MAX_PAGE_BYTES && !events.is_empty())
            {
                more = true;
                break;
            }
            scanned += 1;
            last = Some(Cursor { timestamp: ts, seq });
            if let Some(n) = next_of(idx, &mut iters)? {
                heap.push(Reverse(n));
            }
            if keep(&msg) {
                bytes += msg.len() + EVENT_OVERHEAD;
                events.push(LogEvent {
                    log_stream_name: selected[idx].1.clone(),
                    timestamp: ts,
                    ingestion_time: ing,
                    message: msg,
                    seq,
                });
            }
        }
        Ok(FilterPage {
            next: if more { last } else { None },
            events,
            searched_streams: Vec::new(),
        })
    }

    /// Deletes events older than their group's retention. Returns how many
    /// were removed. Reads already hide them; this reclaims the space.
    pub async fn enforce_retention(&self) -> StoreResult<usize> {
        let mut removed = self.drop_expired_segments().await?;
        let now = now_ms();
        let targets: Vec<(Scope, String, u64, u64, String, i64)> = {
            let catalog = self.read();
            catalog
                .scopes
                .iter()
                .flat_map(|(scope, groups)| {
                    groups.values().filter_map(move |e| {
                        e.group.retention_in_days.map(|d| {
                            let cutoff = now - i64::from(d) * 86_400_000;
                            e.streams
                                .values()
                                .map(|s| {
                                    (
                                        scope.clone(),
                                        e.group.name.clone(),
                                        e.group.id,
                                        s.id,
                                        s.name.clone(),
                                        cutoff,
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                })
                .flatten()
                .collect()
        };
        for (scope, group, _group_id, stream_id, stream, cutoff) in targets {
            loop {
                // Blocks whose every event is past retention; one that
                // straddles the cutoff waits until it is wholly expired
                // (reads hide its old events meanwhile).
                let lower = keys::event(stream_id, i64::MIN, 0);
                let upper = keys::event(stream_id, cutoff, 0);
                let mut freed = 0u64;
                let batch: Vec<Vec<u8>> = blocks::parsed(self.inner.events.range(lower..upper))
                    .filter_map(Result::ok)
                    .filter(|b| b.last_ts < cutoff)
                    .take(1_000)
                    .map(|b| {
                        freed += b.message_bytes();
                        removed += b.len();
                        b.key().to_vec()
                    })
                    .collect();
                if batch.is_empty() {
                    break;
                }
                let mut writes: Vec<Write> = batch
                    .into_iter()
                    .map(|k| Write::Delete(Space::Events, k))
                    .collect();
                let done = {
                    let mut catalog = self.write();
                    if let Ok(entry) = catalog.group_mut(&scope, &group) {
                        let gid = entry.group.id;
                        if let Some(s) = entry.streams.get_mut(&stream) {
                            s.stored_bytes = s.stored_bytes.saturating_sub(freed);
                            writes.push(stream_write(gid, s));
                        }
                    }
                    self.enqueue(writes)
                };
                durable(done).await?;
            }
        }
        Ok(removed)
    }
}
