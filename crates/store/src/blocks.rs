//! Hot-tier blocks: the events of one PutLogEvents call are stored as a few
//! engine entries instead of one entry each. Every run of the call's events
//! that spans at most [`MAX_SPAN_MS`] becomes one block, so the engine keys,
//! journals and indexes a block once rather than each event, which is what
//! makes a durable write cost little more than appending its bytes.
//!
//! Key: [`keys::event`]`(stream id, first timestamp, first seq)`, the block's
//! smallest event, so a stream's blocks sort by their first event. Value
//! (version 2, written for small blocks and compressed as version 3 for
//! larger ones, see below):
//!
//! ```text
//! [version: u8 = 2][ingestion time: i64 BE][count: u32 BE][last timestamp: i64 BE]
//! then per event, in (timestamp, seq) order:
//! [timestamp − first timestamp: u32 BE][shared: u16 BE][suffix length: u32 BE][suffix bytes]
//! ```
//!
//! An event's message is the first `shared` bytes of the message before it
//! followed by its suffix (front coding; the first event shares nothing).
//! Consecutive log lines often begin alike: every execution-log line of a
//! request starts with the same `({requestId}) `, JSON access lines with the
//! same first key. Those bytes are written once per run of alike lines
//! instead of once per line, so the journal, the blob file the engine moves
//! the block into, and their checksums handle about a third fewer bytes for
//! execution logs. Version 1 values (stores written before front coding)
//! are the same without `shared`: `[delta: u32 BE][length: u32 BE][message]`.
//! Both are read; a version 2 value is expanded into the version 1 layout
//! when it is parsed, so readers always see whole messages in place.
//!
//! Version 3 is version 2 compressed: the same header (with version 3),
//! then `[front-coded body length: u32 BE]` and the body as one LZ4 block.
//! Front coding only sees the line before; a request's lines are most like
//! the same lines of the request before it (the same headers, paths and
//! templates, different ids and times), which LZ4 finds. A block of
//! data-trace execution lines shrinks about eightfold, and the bytes the
//! journal, the blob file and their checksums handle with it; compressing
//! costs the writer less CPU than writing the bytes did. Blocks under
//! 1 KiB, and blocks that would not shrink by an eighth, stay version 2.
//! A compressed body that does not decode is skipped (the engine's
//! checksums catch damage before it gets here); one cut where LZ4's
//! sequences end yields the whole events before the cut.
//!
//! The events of a block have consecutive sequence numbers starting at the
//! key's. Blocks of one stream may overlap in time (CloudWatch accepts calls
//! whose events interleave with earlier ones), so ordered reads merge them
//! (`Ordered`); because no block spans more than [`MAX_SPAN_MS`], a read
//! from time `t` only looks at blocks that start at `t − MAX_SPAN_MS` or
//! later.

use std::collections::BinaryHeap;

use crate::error::StoreResult;
use crate::events::Key;
use crate::keys;
use crate::model::{EventInput, InputLogEvent};

/// Longest time span of one block, in milliseconds.
pub const MAX_SPAN_MS: i64 = 1_000;

/// Front-coded messages (written as is for blocks that [`PACKED`] does
/// not shrink).
const VERSION: u8 = 2;
/// The layout read in place: whole messages (also what version 2 values
/// are expanded into when parsed).
const PLAIN: u8 = 1;
/// Front-coded and LZ4-compressed after the header.
const PACKED: u8 = 3;
const HEADER: usize = 1 + 8 + 4 + 8;
/// Per-event header of the plain layout: delta, length.
const ENTRY: usize = 4 + 4;
/// Per-event header of the front-coded layout: delta, shared, suffix length.
const CODED_ENTRY: usize = 4 + 2 + 4;

/// Length of the common prefix of `a` and `b`, at most `u16::MAX`.
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len()).min(usize::from(u16::MAX));
    let (a, b) = (&a[..n], &b[..n]);
    let mut done = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        if x != y {
            return done + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + a[done..]
        .iter()
        .zip(&b[done..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Splits chronological events into runs that each span at most
/// [`MAX_SPAN_MS`]; each run becomes one block.
pub fn runs<E: EventInput>(events: &[E]) -> impl Iterator<Item = &[E]> {
    let mut rest = events;
    std::iter::from_fn(move || {
        let first = rest.first()?.timestamp();
        let end = rest.partition_point(|e| e.timestamp() - first <= MAX_SPAN_MS);
        let (run, tail) = rest.split_at(end.max(1));
        rest = tail;
        Some(run)
    })
}

/// Encodes one run of chronological events (see [`runs`]) as a block value,
/// written straight into the engine's value (its one copy of the bytes).
pub fn encode<E: EventInput>(ingestion_time: i64, run: &[E]) -> fjall::Slice {
    let reader = BlockBytes::new(ingestion_time, run);
    if reader.len >= PACK_FROM && reader.len <= MAX_PACKED_BODY {
        if let Some(packed) = pack(&reader) {
            return packed;
        }
    }
    filled(reader.len, |out| reader.write_all_into(out))
}

/// A value of `len` bytes, written by `fill` straight into the engine's
/// buffer (its one copy of the bytes): the engine reads a value whole, into
/// a buffer of its length. A shorter read (any other reader's way) gets the
/// bytes written once aside and served from there.
fn filled(len: usize, fill: impl FnOnce(&mut [u8])) -> fjall::Slice {
    let mut reader = Fill::new(len, fill);
    // The reader yields exactly `len` bytes, so reading them cannot fail.
    fjall::Slice::from_reader(&mut reader, len).expect("a filled value yields its length")
}

/// The reader behind [`filled`].
struct Fill<F> {
    len: usize,
    fill: Option<F>,
    aside: Vec<u8>,
    served: usize,
}

impl<F: FnOnce(&mut [u8])> Fill<F> {
    fn new(len: usize, fill: F) -> Self {
        Fill {
            len,
            fill: Some(fill),
            aside: Vec::new(),
            served: 0,
        }
    }
}

impl<F: FnOnce(&mut [u8])> std::io::Read for Fill<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if let Some(fill) = self.fill.take() {
            if out.len() >= self.len {
                fill(&mut out[..self.len]);
                self.served = self.len;
                return Ok(self.len);
            }
            self.aside = vec![0u8; self.len];
            fill(&mut self.aside);
        }
        let n = (self.len - self.served).min(out.len());
        if n > 0 {
            out[..n].copy_from_slice(&self.aside[self.served..self.served + n]);
            self.served += n;
        }
        Ok(n)
    }
}

/// The bytes of a block value: its events front-coded, counted before they
/// are written.
struct BlockBytes<'a, E> {
    ingestion_time: i64,
    run: &'a [E],
    /// Per event, how many leading bytes it shares with the one before.
    shared: Vec<u16>,
    len: usize,
}

impl<'a, E: EventInput> BlockBytes<'a, E> {
    fn new(ingestion_time: i64, run: &'a [E]) -> Self {
        let mut shared = Vec::with_capacity(run.len());
        let mut bytes = 0;
        let mut previous: &[u8] = &[];
        for e in run {
            let message = e.message().as_bytes();
            let n = shared_prefix(previous, message);
            shared.push(n as u16);
            bytes += message.len() - n;
            previous = message;
        }
        BlockBytes {
            ingestion_time,
            run,
            shared,
            len: HEADER + CODED_ENTRY * run.len() + bytes,
        }
    }

    /// Writes the whole block into `out`, exactly its length.
    fn write_all_into(&self, out: &mut [u8]) {
        let first = self.run.first().map_or(0, |e| e.timestamp());
        let last = self.run.last().map_or(0, |e| e.timestamp());
        out[0] = VERSION;
        out[1..9].copy_from_slice(&self.ingestion_time.to_be_bytes());
        out[9..13].copy_from_slice(&(self.run.len() as u32).to_be_bytes());
        out[13..HEADER].copy_from_slice(&last.to_be_bytes());
        let mut pos = HEADER;
        for (e, &shared) in self.run.iter().zip(&self.shared) {
            let delta = (e.timestamp() - first).clamp(0, u32::MAX as i64) as u32;
            let suffix = &e.message().as_bytes()[usize::from(shared)..];
            out[pos..pos + 4].copy_from_slice(&delta.to_be_bytes());
            out[pos + 4..pos + 6].copy_from_slice(&shared.to_be_bytes());
            out[pos + 6..pos + CODED_ENTRY].copy_from_slice(&(suffix.len() as u32).to_be_bytes());
            pos += CODED_ENTRY;
            out[pos..pos + suffix.len()].copy_from_slice(suffix);
            pos += suffix.len();
        }
    }
}

/// Smallest front-coded block worth compressing.
const PACK_FROM: usize = 1024;
/// Largest body a compressed block may claim (a corrupt length above it is
/// refused rather than allocated): far above what one call can write.
const MAX_PACKED_BODY: usize = 64 << 20;
/// Largest buffer a thread keeps between blocks, writing or reading: a rare
/// huge block must not pin its buffers for the thread's life.
const KEPT_BUFFER: usize = 4 << 20;

/// A writer thread's reusable packing state.
struct Packing {
    /// The front-coded block.
    plain: Vec<u8>,
    /// Its compressed form.
    packed: Vec<u8>,
    /// LZ4's hash table for bodies under 64 KiB (16-bit positions), kept
    /// instead of allocated per block. It is cleared for every block, so it
    /// is kept apart from the table of larger bodies, which is twice its
    /// size: one large block must not make every later small one clear
    /// 16 KiB.
    small: lz4_flex::block::CompressTable,
    /// LZ4's hash table for larger bodies, made on first use.
    large: Option<lz4_flex::block::CompressTable>,
}

impl Packing {
    fn new() -> Self {
        Packing {
            plain: Vec::new(),
            packed: Vec::new(),
            small: lz4_flex::block::CompressTable::small(),
            large: None,
        }
    }

    /// The block LZ4-compressed after its header (version 3), or front-coded
    /// as is (version 2, already written here) when compressing saves less
    /// than an eighth.
    fn pack<E: EventInput>(&mut self, reader: &BlockBytes<'_, E>) -> Option<fjall::Slice> {
        let plain = at_least(&mut self.plain, reader.len);
        reader.write_all_into(plain);
        let body = &plain[HEADER..];
        let most = HEADER + 4 + lz4_flex::block::get_maximum_output_size(body.len());
        let packed = at_least(&mut self.packed, most);
        let table = if body.len() < usize::from(u16::MAX) {
            &mut self.small
        } else {
            self.large
                .get_or_insert_with(lz4_flex::block::CompressTable::large)
        };
        let n = lz4_flex::block::compress_into_with_table(body, &mut packed[HEADER + 4..], table)
            .ok()?;
        let len = HEADER + 4 + n;
        if len > reader.len - reader.len / 8 {
            return Some(fjall::Slice::from(&plain[..reader.len]));
        }
        packed[..HEADER].copy_from_slice(&plain[..HEADER]);
        packed[0] = PACKED;
        packed[HEADER..HEADER + 4].copy_from_slice(&(body.len() as u32).to_be_bytes());
        Some(fjall::Slice::from(&packed[..len]))
    }
}

thread_local! {
    static PACKING: std::cell::RefCell<Packing> = std::cell::RefCell::new(Packing::new());
}

/// Grows `buf` to at least `len` bytes (zeroing only what is new) and
/// returns its first `len`.
fn at_least(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}

/// The block encoded with this thread's packing state (see
/// [`Packing::pack`]); `None` only if LZ4 refuses its input.
fn pack<E: EventInput>(reader: &BlockBytes<'_, E>) -> Option<fjall::Slice> {
    PACKING.with(|cell| {
        let mut state = cell.borrow_mut();
        let out = state.pack(reader);
        if state.plain.capacity() > KEPT_BUFFER {
            *state = Packing::new();
        }
        out
    })
}

thread_local! {
    /// A reading thread's buffer for decompressed bodies: they are expanded
    /// into the value a reader keeps, so the buffer is only ever borrowed.
    static UNPACKED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A compressed value in the plain layout, with the number of events it
/// holds; `None` when its body does not decompress.
fn unpack(value: &[u8]) -> Option<(fjall::Slice, u32)> {
    let raw = u32::from_be_bytes(value.get(HEADER..HEADER + 4)?.try_into().ok()?) as usize;
    if raw > MAX_PACKED_BODY {
        return None;
    }
    let run = |body: &mut Vec<u8>| {
        // Zeroed once as it grows; LZ4 then overwrites what it produces,
        // and only what it produced is read.
        if body.len() < raw {
            body.resize(raw, 0);
        }
        let n = lz4_flex::block::decompress_into(&value[HEADER + 4..], &mut body[..raw]).ok();
        let out = n.map(|n| expand(&value[..HEADER], &body[..n]));
        if body.capacity() > KEPT_BUFFER {
            *body = Vec::new();
        }
        out
    };
    // A thread whose locals are being torn down decompresses into a buffer
    // of its own.
    UNPACKED
        .try_with(|cell| run(&mut cell.borrow_mut()))
        .unwrap_or_else(|_| run(&mut Vec::new()))
}

/// One stored block, decoded lazily from the engine's value.
#[derive(Clone)]
pub struct Block {
    /// The stream it belongs to.
    pub stream_id: u64,
    /// Timestamp of its first event.
    pub first_ts: i64,
    /// Sequence number of its first event.
    pub first_seq: u64,
    /// When its events were ingested.
    pub ingestion_time: i64,
    /// Timestamp of its last event.
    pub last_ts: i64,
    count: u32,
    value: fjall::Slice,
}

impl Block {
    /// Parses a stored entry; `None` for one that is not a block. A
    /// front-coded value is expanded into the plain layout here, once.
    pub fn parse(key: &[u8], value: fjall::Slice) -> Option<Block> {
        let (stream_id, first_ts, first_seq) = keys::parse_event(key)?;
        if value.len() < HEADER {
            return None;
        }
        let (value, count) = match value[0] {
            PLAIN => {
                let count = u32::from_be_bytes(value[9..13].try_into().ok()?);
                (value, count)
            }
            VERSION => expand(&value[..HEADER], &value[HEADER..]),
            PACKED => unpack(&value)?,
            _ => return None,
        };
        let ingestion_time = i64::from_be_bytes(value[1..9].try_into().ok()?);
        let last_ts = i64::from_be_bytes(value[13..21].try_into().ok()?);
        Some(Block {
            stream_id,
            first_ts,
            first_seq,
            ingestion_time,
            last_ts,
            count,
            value,
        })
    }

    /// The engine key of the block.
    pub fn key(&self) -> [u8; 24] {
        keys::event(self.stream_id, self.first_ts, self.first_seq)
    }

    /// Position of its first (smallest) event.
    pub(crate) fn head(&self) -> Key {
        Key(self.first_ts, self.first_seq)
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether it holds no events.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of its messages.
    pub fn message_bytes(&self) -> u64 {
        self.value.len().saturating_sub(HEADER + ENTRY * self.len()) as u64
    }

    /// Whether each of `needles` occurs somewhere in the block's bytes
    /// after its header: false means no message of the block contains
    /// that needle (true may also come from a match across an entry's
    /// length prefix, so it only says the messages are worth reading).
    pub fn holds_all(&self, needles: &[memchr::memmem::Finder<'_>]) -> bool {
        let body = self.value.get(HEADER..).unwrap_or_default();
        needles.iter().all(|n| n.find(body).is_some())
    }

    /// Its events in (timestamp, seq) order: (timestamp, seq, message).
    pub fn events(&self) -> BlockEvents<'_> {
        BlockEvents {
            block: self,
            pos: HEADER,
            index: 0,
        }
    }

    /// The event with this sequence number, if the block holds it.
    pub fn find(&self, timestamp: i64, seq: u64) -> Option<&[u8]> {
        let index = seq.checked_sub(self.first_seq)?;
        if index >= u64::from(self.count) {
            return None;
        }
        self.events()
            .nth(index as usize)
            .filter(|(ts, s, _)| *ts == timestamp && *s == seq)
            .map(|(_, _, m)| m)
    }
}

/// A front-coded value in the plain layout, with the number of events it
/// holds: up to the first malformed entry, as plain values are read. A
/// first pass finds the whole entries and the plain value's length; the
/// second writes them straight into the value.
fn expand(header: &[u8], coded: &[u8]) -> (fjall::Slice, u32) {
    let count = u32::from_be_bytes([header[9], header[10], header[11], header[12]]);
    let entry = |pos: usize| {
        let head = coded.get(pos..pos + CODED_ENTRY)?;
        let shared = usize::from(u16::from_be_bytes([head[4], head[5]]));
        let suffix = u32::from_be_bytes([head[6], head[7], head[8], head[9]]) as usize;
        Some((shared, suffix))
    };
    let (mut pos, mut previous_len, mut whole, mut len) = (0, 0usize, 0u32, HEADER);
    while whole < count {
        let Some((shared, suffix)) = entry(pos) else {
            break;
        };
        if shared > previous_len || coded.len() - pos - CODED_ENTRY < suffix {
            break;
        }
        // A corrupt value could claim more than memory holds (each entry
        // can repeat 64 KB): the expansion stops where a value could not be.
        if len + ENTRY + shared + suffix > u32::MAX as usize {
            break;
        }
        len += ENTRY + shared + suffix;
        pos += CODED_ENTRY + suffix;
        previous_len = shared + suffix;
        whole += 1;
    }
    let value = filled(len, |out| {
        out[0] = PLAIN;
        out[1..HEADER].copy_from_slice(&header[1..HEADER]);
        // The count is the whole entries found.
        out[9..13].copy_from_slice(&whole.to_be_bytes());
        // The entries the first pass accepted, so every range below is in
        // bounds: their sizes add up to `len`, and each `shared` is at most
        // the length of the message before it.
        let (mut pos, mut at, mut previous_at) = (0, HEADER, 0);
        for _ in 0..whole {
            let (shared, suffix) = entry(pos).unwrap_or_default();
            let message = at + ENTRY;
            out[at..at + 4].copy_from_slice(&coded[pos..pos + 4]);
            out[at + 4..message].copy_from_slice(&((shared + suffix) as u32).to_be_bytes());
            out.copy_within(previous_at..previous_at + shared, message);
            let text = pos + CODED_ENTRY;
            out[message + shared..message + shared + suffix]
                .copy_from_slice(&coded[text..text + suffix]);
            (pos, at, previous_at) = (text + suffix, message + shared + suffix, message);
        }
    });
    (value, whole)
}

/// Iterator over a block's events; stops at the first malformed entry.
pub struct BlockEvents<'a> {
    block: &'a Block,
    pos: usize,
    index: u32,
}

impl<'a> Iterator for BlockEvents<'a> {
    type Item = (i64, u64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.block.count {
            return None;
        }
        let v: &'a [u8] = &self.block.value;
        let head = v.get(self.pos..self.pos + ENTRY)?;
        let delta = u32::from_be_bytes(head[..4].try_into().ok()?);
        let len = u32::from_be_bytes(head[4..].try_into().ok()?) as usize;
        let start = self.pos + ENTRY;
        let message = v.get(start..start + len)?;
        let item = (
            self.block.first_ts + i64::from(delta),
            self.block.first_seq + u64::from(self.index),
            message,
        );
        self.pos = start + len;
        self.index += 1;
        Some(item)
    }
}

/// Engine key range holding every block of `stream_id` that can contain an
/// event in `[lo, hi)`; `None` when the range is empty.
pub(crate) fn key_range(stream_id: u64, lo: Key, hi: Key) -> Option<std::ops::Range<[u8; 24]>> {
    let lower = keys::event(stream_id, lo.0.saturating_sub(MAX_SPAN_MS), 0);
    let upper = keys::event(stream_id, hi.0, hi.1);
    (lower < upper && lo < hi).then_some(lower..upper)
}

/// Turns the engine's entries into blocks, skipping entries that are not.
pub(crate) fn parsed(
    guards: impl Iterator<Item = fjall::Guard>,
) -> impl Iterator<Item = StoreResult<Block>> {
    guards.filter_map(|g| match g.into_inner() {
        Ok((k, v)) => Block::parse(&k, v).map(Ok),
        Err(e) => Some(Err(e.into())),
    })
}

/// One event read back from the hot tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotEvent {
    /// Event timestamp.
    pub timestamp: i64,
    /// Sequence number.
    pub seq: u64,
    /// Ingestion time.
    pub ingestion_time: i64,
    /// The message.
    pub message: String,
}

/// Heap rank of a position: the heap pops the largest rank, which is the
/// smallest key going forward and the largest going backward.
fn rank(k: Key, forward: bool) -> u128 {
    let v = (u128::from((k.0 as u64) ^ (1 << 63)) << 64) | u128::from(k.1);
    if forward {
        !v
    } else {
        v
    }
}

/// A block being read: the positions of its events within the read's range,
/// in the order the read returns them.
struct Open {
    block: Block,
    entries: Vec<(Key, u32, u32)>,
    next: usize,
}

/// Events of one stream's blocks in `[lo, hi)` in (timestamp, seq) order,
/// forward or backward, merging blocks that overlap in time. Fed the
/// stream's blocks in key order (reversed for a backward read) from the
/// range [`key_range`] gives.
pub(crate) struct Ordered<I: Iterator<Item = StoreResult<Block>>> {
    blocks: std::iter::Peekable<I>,
    open: Vec<Option<Open>>,
    free: Vec<usize>,
    heap: BinaryHeap<(u128, usize)>,
    lo: Key,
    hi: Key,
    forward: bool,
}

impl<I: Iterator<Item = StoreResult<Block>>> Ordered<I> {
    /// An ordered read over `blocks`.
    pub(crate) fn new(blocks: I, lo: Key, hi: Key, forward: bool) -> Self {
        Ordered {
            blocks: blocks.peekable(),
            open: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            lo,
            hi,
            forward,
        }
    }

    fn load(&mut self, block: Block) {
        let (lo, hi) = (self.lo, self.hi);
        let mut entries: Vec<(Key, u32, u32)> = Vec::with_capacity(block.len());
        let base = block.value.as_ptr() as usize;
        for (ts, seq, message) in block.events() {
            let k = Key(ts, seq);
            if k >= lo && k < hi {
                let start = message.as_ptr() as usize - base;
                entries.push((k, start as u32, message.len() as u32));
            }
        }
        if entries.is_empty() {
            return;
        }
        if !self.forward {
            entries.reverse();
        }
        let rank = rank(entries[0].0, self.forward);
        let open = Open {
            block,
            entries,
            next: 0,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.open[s] = Some(open);
                s
            }
            None => {
                self.open.push(Some(open));
                self.open.len() - 1
            }
        };
        self.heap.push((rank, slot));
    }
}

impl<I: Iterator<Item = StoreResult<Block>>> Iterator for Ordered<I> {
    type Item = StoreResult<HotEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let top = self.heap.peek().map(|&(r, _)| r);
            let load = match self.blocks.peek() {
                None => false,
                Some(Err(_)) => {
                    if let Some(Err(e)) = self.blocks.next() {
                        return Some(Err(e));
                    }
                    continue;
                }
                Some(Ok(b)) => match top {
                    None => true,
                    // Every unread block starts at or after this one's head.
                    Some(t) if self.forward => rank(b.head(), true) >= t,
                    // Every unread block starts at or before this one's head,
                    // so none holds an event past head + MAX_SPAN_MS.
                    Some(t) => {
                        t <= rank(Key(b.first_ts.saturating_add(MAX_SPAN_MS), u64::MAX), false)
                    }
                },
            };
            if load {
                if let Some(Ok(b)) = self.blocks.next() {
                    self.load(b);
                }
                continue;
            }
            let (_, slot) = self.heap.pop()?;
            let open = self.open[slot].as_mut().expect("a queued block is open");
            let (k, start, len) = open.entries[open.next];
            let bytes = &open.block.value[start as usize..(start + len) as usize];
            let event = HotEvent {
                timestamp: k.0,
                seq: k.1,
                ingestion_time: open.block.ingestion_time,
                message: String::from_utf8_lossy(bytes).into_owned(),
            };
            open.next += 1;
            if let Some(&(next, _, _)) = open.entries.get(open.next) {
                let rank = rank(next, self.forward);
                self.heap.push((rank, slot));
            } else {
                self.open[slot] = None;
                self.free.push(slot);
            }
            return Some(Ok(event));
        }
    }
}

/// Rewrites a store written with one engine entry per event (keyspace
/// `events`, value `[ingestion time: i64 BE][message]`) into blocks, then
/// drops the old keyspace. Runs of a stream's events that a single call
/// wrote (consecutive sequence numbers, one ingestion time) become one
/// block. Safe to repeat after a crash: blocks are keyed by their first
/// event, so a rerun writes the same entries again.
pub(crate) fn migrate_event_entries(
    db: &fjall::Database,
    old: fjall::Keyspace,
    new: &fjall::Keyspace,
) -> StoreResult<usize> {
    struct Pending {
        stream: u64,
        first_seq: u64,
        ingestion: i64,
        events: Vec<InputLogEvent>,
    }
    fn flush(batch: &mut fjall::OwnedWriteBatch, new: &fjall::Keyspace, p: &Pending) {
        let key = keys::event(p.stream, p.events[0].timestamp, p.first_seq);
        batch.insert(new, key, encode(p.ingestion, &p.events));
    }
    let mut moved = 0usize;
    let mut batch = db.batch().durability(Some(fjall::PersistMode::SyncData));
    let mut in_batch = 0usize;
    let mut pending: Option<Pending> = None;
    for guard in old.iter() {
        let (k, v) = guard.into_inner()?;
        let (Some((stream, ts, seq)), Some((ingestion, message))) =
            (keys::parse_event(&k), keys::parse_event_value(&v))
        else {
            continue;
        };
        let joins = pending.as_ref().is_some_and(|p| {
            p.stream == stream
                && p.ingestion == ingestion
                && p.first_seq + p.events.len() as u64 == seq
                && ts - p.events[0].timestamp <= MAX_SPAN_MS
        });
        if !joins {
            if let Some(p) = pending.take() {
                flush(&mut batch, new, &p);
            }
            pending = Some(Pending {
                stream,
                first_seq: seq,
                ingestion,
                events: Vec::new(),
            });
        }
        if let Some(p) = pending.as_mut() {
            p.events.push(InputLogEvent {
                timestamp: ts,
                message,
            });
        }
        moved += 1;
        in_batch += 1;
        if in_batch >= 50_000 {
            if let Some(p) = pending.take() {
                flush(&mut batch, new, &p);
            }
            std::mem::replace(
                &mut batch,
                db.batch().durability(Some(fjall::PersistMode::SyncData)),
            )
            .commit()?;
            in_batch = 0;
        }
    }
    if let Some(p) = pending.take() {
        flush(&mut batch, new, &p);
    }
    batch.commit()?;
    db.persist(fjall::PersistMode::SyncAll)?;
    db.delete_keyspace(old)?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, m: &str) -> InputLogEvent {
        InputLogEvent {
            timestamp: ts,
            message: m.to_string(),
        }
    }

    /// The version 2 bytes of a run, as written before compression.
    fn front_coded(ingestion: i64, run: &[InputLogEvent]) -> Vec<u8> {
        let bytes = BlockBytes::new(ingestion, run);
        let mut out = vec![0u8; bytes.len];
        bytes.write_all_into(&mut out);
        out
    }

    fn block(stream: u64, seq: u64, ingestion: i64, run: &[InputLogEvent]) -> Block {
        let key = keys::event(stream, run[0].timestamp, seq);
        Block::parse(&key, encode(ingestion, run)).expect("a block")
    }

    #[test]
    fn runs_never_span_more_than_the_limit() {
        let events: Vec<_> = [0, 10, 1_000, 1_001, 5_000, 5_000, 9_999]
            .iter()
            .map(|&t| ev(t, "x"))
            .collect();
        let sizes: Vec<usize> = runs(&events).map(|r| r.len()).collect();
        assert_eq!(sizes, vec![3, 1, 2, 1]);
        assert_eq!(runs::<InputLogEvent>(&[]).count(), 0);
    }

    #[test]
    fn a_block_has_the_documented_layout_whatever_the_read_sizes() {
        let run = [
            ev(1_000, "(id-1) Starting"),
            ev(1_000, ""),
            ev(1_200, "(id-1) Sta"),
            ev(1_250, "(id-1) Status é"),
        ];
        let mut expected = vec![VERSION];
        expected.extend_from_slice(&77i64.to_be_bytes());
        expected.extend_from_slice(&4u32.to_be_bytes());
        expected.extend_from_slice(&1_250i64.to_be_bytes());
        // Each message shares a prefix with the one before it.
        for (delta, shared, suffix) in [
            (0u32, 0u16, "(id-1) Starting"),
            (0, 0, ""),
            (200, 0, "(id-1) Sta"),
            (250, 10, "tus é"),
        ] {
            expected.extend_from_slice(&delta.to_be_bytes());
            expected.extend_from_slice(&shared.to_be_bytes());
            expected.extend_from_slice(&(suffix.len() as u32).to_be_bytes());
            expected.extend_from_slice(suffix.as_bytes());
        }
        assert_eq!(&encode(77, &run)[..], &expected[..]);
        // Read in small pieces, or into a buffer larger than the block, the
        // bytes are the same.
        for chunk in (1..=9).chain([expected.len(), 64]) {
            let bytes = BlockBytes::new(77, &run[..]);
            let mut reader = Fill::new(bytes.len, |out: &mut [u8]| bytes.write_all_into(out));
            let mut got = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = std::io::Read::read(&mut reader, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, expected, "chunk {chunk}");
        }
    }

    #[test]
    fn plain_blocks_written_before_front_coding_are_still_read() {
        let mut value = vec![PLAIN];
        value.extend_from_slice(&77i64.to_be_bytes());
        value.extend_from_slice(&3u32.to_be_bytes());
        value.extend_from_slice(&1_250i64.to_be_bytes());
        for (delta, message) in [(0u32, "ab"), (0, ""), (250, "é")] {
            value.extend_from_slice(&delta.to_be_bytes());
            value.extend_from_slice(&(message.len() as u32).to_be_bytes());
            value.extend_from_slice(message.as_bytes());
        }
        let b = Block::parse(&keys::event(3, 1_000, 40), fjall::Slice::from(value)).unwrap();
        let got: Vec<(i64, u64, &[u8])> = b.events().collect();
        assert_eq!(
            got,
            vec![
                (1_000, 40, &b"ab"[..]),
                (1_000, 41, &b""[..]),
                (1_250, 42, "é".as_bytes())
            ]
        );
        assert_eq!(
            (b.ingestion_time, b.last_ts, b.message_bytes()),
            (77, 1_250, 4)
        );
        // An unknown version is not a block.
        let mut other = encode(77, &[ev(1, "x")]).to_vec();
        other[0] = 9;
        assert!(Block::parse(&keys::event(3, 1, 1), fjall::Slice::from(other)).is_none());
    }

    #[test]
    fn shared_prefixes_are_found_at_every_length() {
        let long = "x".repeat(70_000);
        for (a, b, n) in [
            ("", "", 0),
            ("abc", "", 0),
            ("abc", "abd", 2),
            ("abcdefgh", "abcdefgh", 8),
            ("abcdefghi", "abcdefghj", 8),
            ("abcdefghijklmnopq", "abcdefghijklmnoXq", 15),
            ("abcdefghijklmnop", "abcdefghijklmnop-longer", 16),
            (long.as_str(), long.as_str(), usize::from(u16::MAX)),
        ] {
            assert_eq!(
                shared_prefix(a.as_bytes(), b.as_bytes()),
                n,
                "{a:.20} / {b:.20}"
            );
        }
    }

    #[test]
    fn prefixes_longer_than_the_shared_field_round_trip() {
        let run = [ev(1, &"y".repeat(70_000)), ev(2, &"y".repeat(70_001))];
        let b = block(1, 1, 0, &run);
        let got: Vec<&[u8]> = b.events().map(|(_, _, m)| m).collect();
        assert_eq!(
            got,
            vec![run[0].message.as_bytes(), run[1].message.as_bytes()]
        );
    }

    #[test]
    fn a_block_round_trips() {
        let long = format!("(req) {}", "é".repeat(30_000));
        let run = [
            ev(5, "alpha"),
            ev(5, ""),
            ev(900, "gamma é"),
            ev(900, "gamma éta"),
            ev(901, &long),
            ev(902, &long),
            ev(903, &format!("{long}!")),
        ];
        let b = block(3, 40, 77, &run);
        assert_eq!((b.stream_id, b.first_ts, b.first_seq), (3, 5, 40));
        assert_eq!((b.ingestion_time, b.last_ts, b.len()), (77, 903, 7));
        let got: Vec<(i64, u64, &[u8])> = b.events().collect();
        let want: Vec<(i64, u64, &[u8])> = run
            .iter()
            .enumerate()
            .map(|(i, e)| (e.timestamp, 40 + i as u64, e.message.as_bytes()))
            .collect();
        assert_eq!(got, want);
        let bytes: usize = run.iter().map(|e| e.message.len()).sum();
        assert_eq!(b.message_bytes(), bytes as u64);
        // Shared prefixes are stored once: the three long lines cost about one.
        assert!(encode(77, &run).len() < long.len() + 200);
        assert_eq!(b.find(900, 43), Some("gamma éta".as_bytes()));
        assert_eq!(b.find(901, 42), None);
        assert_eq!(b.find(5, 47), None);
        // A truncated front-coded value keeps its whole events instead of
        // panicking, wherever it is cut.
        let coded = front_coded(77, &run);
        let mut seen = 0;
        for cut in 0..coded.len() {
            let Some(cut) = Block::parse(&keys::event(3, 5, 40), fjall::Slice::from(&coded[..cut]))
            else {
                assert!(cut < HEADER);
                continue;
            };
            let events: Vec<(i64, u64, &[u8])> = cut.events().collect();
            assert_eq!(cut.len(), events.len());
            assert!(events.len() >= seen && events.len() < run.len());
            assert_eq!(&events[..], &want[..events.len()]);
            seen = events.len();
        }
        // A shared length longer than the message before it ends the block.
        let mut bad = coded.clone();
        bad[HEADER + 4..HEADER + 6].copy_from_slice(&1u16.to_be_bytes());
        let bad = Block::parse(&keys::event(3, 5, 40), fjall::Slice::from(bad)).unwrap();
        assert_eq!(bad.events().count(), 0);
    }

    /// Execution-log-like lines of `n` requests: alike, but not by prefix.
    fn trace_lines(n: usize) -> Vec<InputLogEvent> {
        (0..n)
            .flat_map(|i| {
                let id = format!("{:08x}-79ff-43c7-97bd-7c038abf{:04}", i * 7919, i);
                [
                    format!("({id}) Extended Request Id: MZrYlK{i:06}="),
                    format!("({id}) Method request path: {{petId={i}}}"),
                    format!("({id}) Method request headers: {{Accept=*/*, Host=127.0.0.1, User-Agent=wrk}}"),
                    format!("({id}) Method completed with status: 200"),
                ]
            })
            .enumerate()
            .map(|(i, m)| ev(1_000 + (i / 40) as i64, &m))
            .collect()
    }

    #[test]
    fn alike_blocks_are_compressed_and_read_back_whole() {
        let run = trace_lines(50);
        let plain = front_coded(9, &run);
        let packed = encode(9, &run);
        assert_eq!(packed[0], PACKED);
        assert_eq!(&packed[1..HEADER], &plain[1..HEADER]);
        assert!(
            packed.len() * 3 < plain.len(),
            "{} of {}",
            packed.len(),
            plain.len()
        );
        let b = Block::parse(&keys::event(2, 1_000, 1), packed.clone()).unwrap();
        let got: Vec<&[u8]> = b.events().map(|(_, _, m)| m).collect();
        let want: Vec<&[u8]> = run.iter().map(|e| e.message.as_bytes()).collect();
        assert_eq!(got, want);
        assert_eq!((b.ingestion_time, b.last_ts, b.len()), (9, 1_004, 200));
        // Bytes that do not compress, and short blocks, stay front-coded.
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        let random: String = (0..2_000)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                char::from(b'!' + (noise % 90) as u8)
            })
            .collect();
        let noisy = [ev(1, &random)];
        assert!(front_coded(9, &noisy).len() >= PACK_FROM);
        assert_eq!(encode(9, &noisy)[0], VERSION);
        assert_eq!(&encode(9, &noisy)[..], &front_coded(9, &noisy)[..]);
        assert_eq!(encode(9, &run[..2])[0], VERSION);
    }

    #[test]
    fn small_blocks_after_a_large_one_still_compress_and_read_back() {
        // A block over 64 KiB takes LZ4's large table; the blocks after it
        // go back to the small one and must read back the same.
        let large = trace_lines(2_000);
        assert!(front_coded(9, &large).len() > usize::from(u16::MAX));
        for run in [large, trace_lines(50), trace_lines(2_000), trace_lines(30)] {
            let packed = encode(9, &run);
            assert_eq!(packed[0], PACKED);
            let b = Block::parse(&keys::event(2, 1_000, 1), packed).unwrap();
            let got: Vec<&[u8]> = b.events().map(|(_, _, m)| m).collect();
            let want: Vec<&[u8]> = run.iter().map(|e| e.message.as_bytes()).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_damaged_compressed_block_is_cut_or_skipped_without_panicking() {
        let run = trace_lines(20);
        let packed = encode(9, &run).to_vec();
        assert_eq!(packed[0], PACKED);
        let key = keys::event(2, 1_000, 1);
        let whole: Vec<&[u8]> = run.iter().map(|e| e.message.as_bytes()).collect();
        let events = |value: Vec<u8>| {
            Block::parse(&key, fjall::Slice::from(value)).map(|b| {
                let got: Vec<Vec<u8>> = b.events().map(|(_, _, m)| m.to_vec()).collect();
                assert_eq!(got.len(), b.len());
                got
            })
        };
        // Cut anywhere: nothing, or whole events from the start.
        for cut in 0..packed.len() {
            if let Some(got) = events(packed[..cut].to_vec()) {
                assert!(got.len() < whole.len());
                assert!(got.iter().zip(&whole).all(|(g, w)| g == w));
            }
        }
        // Flipped bits (the engine's checksums catch these first) are read
        // as whatever they decode to, never past the block's own count.
        for at in HEADER..packed.len() {
            for bit in [0x01, 0x10, 0x80] {
                let mut flipped = packed.clone();
                flipped[at] ^= bit;
                if let Some(got) = events(flipped) {
                    assert!(got.len() <= whole.len());
                }
            }
        }
        // A claimed length beyond any real block is refused, not allocated.
        let mut huge = packed.clone();
        huge[HEADER..HEADER + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Block::parse(&key, fjall::Slice::from(huge)).is_none());
    }

    fn read(blocks: &[Block], lo: Key, hi: Key, forward: bool) -> Vec<(i64, u64)> {
        let mut sorted = blocks.to_vec();
        sorted.sort_by_key(|b| b.key());
        if !forward {
            sorted.reverse();
        }
        Ordered::new(sorted.into_iter().map(Ok), lo, hi, forward)
            .map(|e| {
                let e = e.unwrap();
                (e.timestamp, e.seq)
            })
            .collect()
    }

    #[test]
    fn overlapping_blocks_are_merged_in_order_both_ways() {
        // Three calls whose events interleave in time.
        let a = block(1, 1, 0, &[ev(100, "a"), ev(300, "a"), ev(900, "a")]);
        let b = block(1, 4, 0, &[ev(200, "b"), ev(250, "b"), ev(1_100, "b")]);
        let c = block(1, 7, 0, &[ev(50, "c"), ev(1_000, "c")]);
        let blocks = [a, b, c];
        let mut all: Vec<(i64, u64)> = blocks
            .iter()
            .flat_map(|b| b.events().map(|(t, s, _)| (t, s)).collect::<Vec<_>>())
            .collect();
        all.sort();
        let (min, max) = (Key(i64::MIN, 0), Key(i64::MAX, u64::MAX));
        assert_eq!(read(&blocks, min, max, true), all);
        let mut back = read(&blocks, min, max, false);
        back.reverse();
        assert_eq!(back, all);
        // Bounds: [lo, hi) on (timestamp, seq).
        let (lo, hi) = (Key(200, 5), Key(1_000, 8));
        let inside: Vec<_> = all
            .iter()
            .copied()
            .filter(|&(t, s)| Key(t, s) >= lo && Key(t, s) < hi)
            .collect();
        assert_eq!(read(&blocks, lo, hi, true), inside);
        let mut back = read(&blocks, lo, hi, false);
        back.reverse();
        assert_eq!(back, inside);
    }
}
