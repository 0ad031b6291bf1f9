use super::*;
use crate::catalog::CreateLogGroup;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "gatewatch-store-{tag}-{}-{}",
        std::process::id(),
        now_ms()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn scope() -> Scope {
    Scope::new("000000000000", "us-east-1")
}

fn ev(timestamp: i64, message: &str) -> InputLogEvent {
    InputLogEvent {
        timestamp,
        message: message.to_string(),
    }
}

#[tokio::test]
async fn groups_streams_and_events_round_trip_across_reopen() {
    let dir = temp_dir("roundtrip");
    let now = now_ms();
    {
        let store = Store::open(&dir, StoreConfig::default()).unwrap();
        store
            .create_log_group(&scope(), "g1", CreateLogGroup::default())
            .await
            .unwrap();
        let dup = store
            .create_log_group(&scope(), "g1", CreateLogGroup::default())
            .await
            .unwrap_err();
        assert_eq!(dup.error_type(), "ResourceAlreadyExistsException");
        store.create_log_stream(&scope(), "g1", "s1").await.unwrap();
        let out = store
            .put_log_events(
                &scope(),
                "g1",
                "s1",
                &[ev(now - 2, "a"), ev(now - 1, "b"), ev(now - 1, "c")],
            )
            .await
            .unwrap();
        assert_eq!(out.accepted, 3);
        assert!(out.rejected.is_empty());
    }
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let streams = store.log_streams(&scope(), "g1").unwrap();
    assert_eq!(streams[0].first_event_timestamp, Some(now - 2));
    assert_eq!(streams[0].last_event_timestamp, Some(now - 1));
    assert_eq!(streams[0].stored_bytes, 3);
    let events = store
        .read_stream(&scope(), "g1", "s1", None, None, None, true, 100)
        .await
        .unwrap();
    let messages: Vec<_> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["a", "b", "c"]);
    // New sequence numbers continue after the recovered ones.
    store
        .put_log_events(&scope(), "g1", "s1", &[ev(now - 1, "d")])
        .await
        .unwrap();
    let events = store
        .read_stream(&scope(), "g1", "s1", None, None, None, true, 100)
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().message, "d");
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn put_log_events_validates_like_cloudwatch() {
    let dir = temp_dir("validate");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    let now = now_ms();
    let missing = store
        .put_log_events(&s, "nope", "s", &[ev(now, "x")])
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "The specified log group does not exist."
    );
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    let missing = store
        .put_log_events(&s, "g", "s", &[ev(now, "x")])
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "The specified log stream does not exist."
    );
    store.create_log_stream(&s, "g", "s").await.unwrap();

    let err = store
        .put_log_events(&s, "g", "s", &[ev(now, "b"), ev(now - 1, "a")])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Log events in a single PutLogEvents request must be in chronological order."
    );
    let err = store
        .put_log_events(&s, "g", "s", &[ev(now - 25 * 3_600_000, "a"), ev(now, "b")])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
    );
    let big = "x".repeat(600_000);
    let err = store
        .put_log_events(&s, "g", "s", &[ev(now, &big), ev(now, &big)])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Upload too large: 1200052 bytes exceeds limit of 1048576"
    );

    // Too old prefix and too new suffix are dropped and reported.
    let out = store
        .put_log_events(
            &s,
            "g",
            "s",
            &[
                ev(now - 15 * 86_400_000, "old"),
                ev(now, "ok"),
                ev(now + 3 * 3_600_000, "new"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(out.rejected.too_old_log_event_end_index, Some(1));
    assert_eq!(out.rejected.too_new_log_event_start_index, Some(2));
    let only_old = store
        .put_log_events(&s, "g", "s", &[ev(now - 15 * 86_400_000, "old")])
        .await
        .unwrap();
    assert_eq!(only_old.rejected.too_old_log_event_end_index, Some(1));
    assert!(!only_old.next_sequence_token.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn reads_page_forward_and_backward_and_filter_merges_streams() {
    let dir = temp_dir("reads");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    let now = now_ms();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "a").await.unwrap();
    store.create_log_stream(&s, "g", "b").await.unwrap();
    let a: Vec<_> = (0..5)
        .map(|i| ev(now - 100 + i * 2, &format!("a{i}")))
        .collect();
    let b: Vec<_> = (0..5)
        .map(|i| ev(now - 99 + i * 2, &format!("b{i} ERROR")))
        .collect();
    store.put_log_events(&s, "g", "a", &a).await.unwrap();
    store.put_log_events(&s, "g", "b", &b).await.unwrap();

    let first = store
        .read_stream(&s, "g", "a", None, None, None, true, 2)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["a0", "a1"]
    );
    let next = store
        .read_stream(
            &s,
            "g",
            "a",
            None,
            None,
            Some(Cursor::of(&first[1])),
            true,
            2,
        )
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["a2", "a3"]
    );
    let tail = store
        .read_stream(&s, "g", "a", None, None, None, false, 2)
        .await
        .unwrap();
    assert_eq!(
        tail.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["a3", "a4"]
    );
    let before = store
        .read_stream(
            &s,
            "g",
            "a",
            None,
            None,
            Some(Cursor::of(&tail[0])),
            false,
            10,
        )
        .await
        .unwrap();
    assert_eq!(before.len(), 3);
    // endTime is exclusive for GetLogEvents.
    let bounded = store
        .read_stream(&s, "g", "a", Some(now - 98), Some(now - 94), None, true, 10)
        .await
        .unwrap();
    assert_eq!(
        bounded
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["a1", "a2"]
    );

    let all = filter_page(&store, None, 100, 1_000_000, &|_| true).await;
    let order: Vec<_> = all
        .events
        .iter()
        .map(|e| e.message.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"]
    );
    assert!(all.next.is_none());
    let page = filter_page(&store, None, 3, 1_000_000, &|m| m.contains("ERROR")).await;
    assert_eq!(page.events.len(), 3);
    let rest = filter_page(&store, page.next, 10, 1_000_000, &|m| m.contains("ERROR")).await;
    assert_eq!(rest.events.len(), 2);
    assert!(rest.next.is_none());
    let only_a = store
        .filter_events(
            &s,
            "g",
            &StreamSelector::Prefix("a".into()),
            None,
            None,
            None,
            100,
            1_000_000,
            &|_| true,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(only_a.events.len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retention_hides_and_removes_only_expired_events() {
    let dir = temp_dir("retention");
    let config = StoreConfig {
        max_event_age_ms: 30 * 86_400_000,
        ..StoreConfig::default()
    };
    let store = Store::open(&dir, config).unwrap();
    let s = scope();
    let now = now_ms();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "s").await.unwrap();
    store
        .put_log_events(&s, "g", "s", &[ev(now - 3 * 86_400_000, "old")])
        .await
        .unwrap();
    store
        .put_log_events(&s, "g", "s", &[ev(now, "fresh")])
        .await
        .unwrap();
    store.put_retention_policy(&s, "g", 1).await.unwrap();
    let visible = store
        .read_stream(&s, "g", "s", None, None, None, true, 10)
        .await
        .unwrap();
    assert_eq!(
        visible
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["fresh"]
    );
    assert_eq!(store.enforce_retention().await.unwrap(), 1);
    store.delete_retention_policy(&s, "g").await.unwrap();
    let after = store
        .read_stream(&s, "g", "s", None, None, None, true, 10)
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["fresh"]
    );
    assert!(store.put_retention_policy(&s, "g", 2).await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn deleting_groups_and_streams_removes_their_events() {
    let dir = temp_dir("delete");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    let now = now_ms();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "s").await.unwrap();
    store
        .put_log_events(&s, "g", "s", &[ev(now, "x")])
        .await
        .unwrap();
    store.delete_log_stream(&s, "g", "s").await.unwrap();
    assert_eq!(
        store
            .read_stream(&s, "g", "s", None, None, None, true, 10)
            .await
            .unwrap_err()
            .error_type(),
        "ResourceNotFoundException"
    );
    store.create_log_stream(&s, "g", "s").await.unwrap();
    assert!(store
        .read_stream(&s, "g", "s", None, None, None, true, 10)
        .await
        .unwrap()
        .is_empty());
    store.delete_log_group(&s, "g").await.unwrap();
    assert!(store.log_group(&s, "g").is_err());
    assert!(store.log_groups(&s).is_empty());
    // Scopes are separate namespaces.
    let other = Scope::new("111111111111", "us-east-1");
    store
        .create_log_group(&other, "g", CreateLogGroup::default())
        .await
        .unwrap();
    assert!(store.log_groups(&s).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn concurrent_writers_share_commits() {
    let dir = temp_dir("concurrent");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    for i in 0..8 {
        store
            .create_log_stream(&s, "g", &format!("s{i}"))
            .await
            .unwrap();
    }
    let now = now_ms();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..20 {
                let batch: Vec<_> = (0..50)
                    .map(|j| ev(now, &format!("w{i} r{round} e{j}")))
                    .collect();
                store
                    .put_log_events(&s, "g", &format!("s{i}"), &batch)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = filter_page(&store, None, 10_000, 1_000_000, &|_| true).await;
    assert_eq!(all.events.len(), 8 * 20 * 50);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The journal file of a closed store and the end of its written data.
fn journal(dir: &std::path::Path) -> (std::path::PathBuf, usize) {
    let path = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jnl"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.modified().unwrap()).unwrap())
        .expect("a journal file");
    let bytes = std::fs::read(&path).unwrap();
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    (path, end)
}

async fn two_batches(dir: &std::path::Path) -> i64 {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let s = scope();
    let now = now_ms();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "s").await.unwrap();
    store
        .put_log_events(&s, "g", "s", &[ev(now, "first-1"), ev(now, "first-2")])
        .await
        .unwrap();
    store
        .put_log_events(&s, "g", "s", &[ev(now, "second-1"), ev(now, "second-2")])
        .await
        .unwrap();
    now
}

async fn messages(store: &Store) -> Vec<String> {
    store
        .read_stream(&scope(), "g", "s", None, None, None, true, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn a_torn_journal_tail_is_cut_and_earlier_batches_kept() {
    let dir = temp_dir("torn");
    two_batches(&dir).await;
    let (path, end) = journal(&dir);
    assert!(end > 16, "the journal holds the batches");
    // Corrupt the last bytes written: the final batch is torn.
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[end - 6..end] {
        *b ^= 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();

    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let got = messages(&store).await;
    assert_eq!(&got[..2], ["first-1", "first-2"], "earlier batches survive");
    // A batch is atomic: the torn one is either wholly gone or wholly there.
    assert!(got.len() == 2 || got.len() == 4, "{got:?}");
    // The store keeps working after recovery.
    store
        .put_log_events(&scope(), "g", "s", &[ev(now_ms(), "after")])
        .await
        .unwrap();
    assert_eq!(
        messages(&store).await.last().map(String::as_str),
        Some("after")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn garbage_after_the_journal_tail_loses_nothing() {
    let dir = temp_dir("garbage");
    two_batches(&dir).await;
    let (path, end) = journal(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let garbage: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 1).collect();
    if bytes.len() < end + garbage.len() {
        bytes.resize(end + garbage.len(), 0);
    }
    bytes[end..end + garbage.len()].copy_from_slice(&garbage);
    std::fs::write(&path, &bytes).unwrap();
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(
        messages(&store).await,
        ["first-1", "first-2", "second-1", "second-2"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unusable_directory_is_a_clear_error() {
    let dir = temp_dir("blocked");
    std::fs::write(&dir, b"a file, not a directory").unwrap();
    let err = Store::open(&dir, StoreConfig::default())
        .err()
        .expect("open must fail");
    assert_eq!(err.error_type(), "ServiceUnavailableException");
    assert!(
        err.to_string()
            .contains("cannot create the store directory"),
        "{err}"
    );
    let _ = std::fs::remove_file(&dir);
}

/// Pages through one stream in a direction with a small limit.
async fn page_all(store: &Store, stream: &str, forward: bool, limit: usize) -> Vec<String> {
    let mut out: Vec<LogEvent> = Vec::new();
    let mut position = None;
    loop {
        let page = store
            .read_stream(&scope(), "g", stream, None, None, position, forward, limit)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        position = Some(if forward {
            Cursor::of(page.last().unwrap())
        } else {
            Cursor::of(&page[0])
        });
        if forward {
            out.extend(page);
        } else {
            out.splice(0..0, page);
        }
    }
    out.into_iter().map(|e| e.message).collect()
}

/// One FilterLogEvents call over every stream of group `g`, without time
/// bounds: up to `limit` events kept by `keep` after `after`, examining at
/// most `budget`.
async fn filter_page(
    store: &Store,
    after: Option<Cursor>,
    limit: usize,
    budget: usize,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> FilterPage {
    filter_page_requiring(store, after, limit, budget, keep, &[]).await
}

/// One FilterLogEvents page of group `g`, with the texts every kept
/// message contains.
async fn filter_page_requiring(
    store: &Store,
    after: Option<Cursor>,
    limit: usize,
    budget: usize,
    keep: &(dyn Fn(&str) -> bool + Sync),
    required: &[&str],
) -> FilterPage {
    store
        .filter_events(
            &scope(),
            "g",
            &StreamSelector::All,
            None,
            None,
            after,
            limit,
            budget,
            keep,
            required,
        )
        .await
        .unwrap()
}

async fn filter_all(store: &Store, needle: &str, limit: usize) -> Vec<String> {
    filter_all_within(store, needle, limit, 1_000_000).await
}

/// Pages through FilterLogEvents with a scan budget per call.
async fn filter_all_within(
    store: &Store,
    needle: &str,
    limit: usize,
    budget: usize,
) -> Vec<String> {
    filter_pages(store, &|m| m.contains(needle), limit, budget)
        .await
        .0
}

/// Pages through FilterLogEvents (at most 1,000 calls) with a scan budget
/// per call: the messages kept, and how many calls it took.
async fn filter_pages(
    store: &Store,
    keep: &(dyn Fn(&str) -> bool + Sync),
    limit: usize,
    budget: usize,
) -> (Vec<String>, usize) {
    filter_pages_requiring(store, keep, &[], limit, budget).await
}

/// [`filter_pages`] with the texts every kept message contains.
async fn filter_pages_requiring(
    store: &Store,
    keep: &(dyn Fn(&str) -> bool + Sync),
    required: &[&str],
    limit: usize,
    budget: usize,
) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut after = None;
    for calls in 1..=1000 {
        let page = filter_page_requiring(store, after, limit, budget, keep, required).await;
        assert!(page.events.len() <= limit, "a page within its limit");
        out.extend(page.events.into_iter().map(|e| e.message));
        match page.next {
            Some(n) => after = Some(n),
            None => return (out, calls),
        }
    }
    panic!("paging did not end in 1,000 calls");
}

#[tokio::test]
async fn filters_pass_over_blocks_without_a_required_text_and_find_the_same_events() {
    let dir = temp_dir("required");
    let store = store_with_group(&dir).await;
    let s = scope();
    let now = now_ms();
    for stream in ["a", "b"] {
        store.create_log_stream(&s, "g", stream).await.unwrap();
    }
    // Forty calls, so forty blocks per stream; the needle is in three of
    // stream a's, once at a block's start and once at its end.
    for call in 0..40i64 {
        for stream in ["a", "b"] {
            let events: Vec<_> = (0..50i64)
                .map(|i| {
                    let needle = stream == "a"
                        && ((call == 3 && i == 0) || (call == 17 && i == 49) || call == 30);
                    let text = if needle { "req-7f3a" } else { "req-0000" };
                    ev(
                        now - 10_000 + call * 100 + i,
                        &format!("{stream}{call}.{i} {text}"),
                    )
                })
                .collect();
            store
                .put_log_events(&s, "g", stream, &events)
                .await
                .unwrap();
        }
    }
    let keep = |m: &str| m.contains("req-7f3a");
    let read = |required: &'static [&'static str], limit: usize, budget: usize| {
        let store = &store;
        async move {
            filter_pages_requiring(store, &keep, required, limit, budget)
                .await
                .0
        }
    };
    let all = read(&[], 10_000, 1_000_000).await;
    assert_eq!(all.len(), 52);
    assert_eq!(all[0], "a3.0 req-7f3a");
    assert_eq!(all[1], "a17.49 req-7f3a");
    assert_eq!(read(&["req-7f3a"], 10_000, 1_000_000).await, all);
    // Small pages and a small scan budget page the same way.
    assert_eq!(read(&["req-7f3a"], 7, 60).await, all);
    // A text no block holds: nothing, at once.
    let page = filter_page_requiring(&store, None, 100, 1_000, &|_| true, &["absent"]).await;
    assert!(page.events.is_empty() && page.next.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn segments_without_a_searched_id_are_passed_over_and_their_filters_kept() {
    let s = scope();
    let id = |i: u32| format!("00000000-0000-4000-8000-{i:012x}");
    let dir = temp_dir("idfilter");
    {
        let store = store_with_group(&dir).await;
        store.create_log_stream(&s, "g", "a").await.unwrap();
        let base = now_ms() - 60_000;
        let events: Vec<_> = (0..2_000u32)
            .map(|i| ev(base + i64::from(i), &format!("({}) line {i}", id(i))))
            .collect();
        store.put_log_events(&s, "g", "a", &events).await.unwrap();
        assert_eq!(store.compact(0).await.unwrap(), 2_000);
    }
    // Reopened: the first compaction removes unindexed files, and must
    // keep the id filters that sit beside indexed segments.
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(store.compact(0).await.unwrap(), 0);
    let filters: Vec<_> = files_under(&dir.join("segments"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ids"))
        .collect();
    assert_eq!(filters.len(), 1, "{filters:?}");
    let metas = store.read().group(&s, "g").unwrap().segments.clone();
    assert!(metas.iter().all(|m| m.ids));
    let search = |needle: String| {
        let store = store.clone();
        async move {
            let keep = |m: &str| m.contains(needle.as_str());
            filter_pages_requiring(&store, &keep, &[needle.as_str()], 100, 1_000_000)
                .await
                .0
        }
    };
    assert_eq!(
        search(id(1_234)).await,
        [format!("({}) line 1234", id(1_234))]
    );
    assert!(search(id(7_777)).await.is_empty());
    // The absent id's search did not open the segment; the present one's must.
    let absent = id(7_777);
    let present = id(1_234);
    for m in &metas {
        assert!(
            !store
                .inner
                .segment_files
                .may_hold(m, &[absent.as_str()])
                .await
        );
        assert!(
            store
                .inner
                .segment_files
                .may_hold(m, &[present.as_str()])
                .await
        );
        // A text with no UUID-shaped part says nothing.
        assert!(store.inner.segment_files.may_hold(m, &[]).await);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn narrow_reads_of_a_large_segment_find_what_the_hot_tier_found() {
    let dir = temp_dir("narrow");
    let store = store_with_group(&dir).await;
    let s = scope();
    store.create_log_stream(&s, "g", "a").await.unwrap();
    // 140,000 events 10 ms apart, ending a minute ago: a segment of three
    // row groups (two segments if an hour boundary falls between them).
    let base = now_ms() - 60_000 - 140_000 * 10;
    for chunk in 0..14i64 {
        let events: Vec<_> = (0..10_000i64)
            .map(|i| {
                let n = chunk * 10_000 + i;
                ev(base + n * 10, &format!("e{n}"))
            })
            .collect();
        store.put_log_events(&s, "g", "a", &events).await.unwrap();
    }
    let (lower, upper) = (base + 100_000 * 10, base + 100_005 * 10);
    let filtered = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .filter_events(
                    &scope(),
                    "g",
                    &StreamSelector::All,
                    Some(lower),
                    Some(upper),
                    None,
                    100,
                    1_000_000,
                    &|_| true,
                    &[],
                )
                .await
                .unwrap()
                .events
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
        }
    };
    let stream = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .read_stream(
                    &scope(),
                    "g",
                    "a",
                    Some(lower),
                    Some(upper),
                    None,
                    true,
                    100,
                )
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
        }
    };
    let want: Vec<String> = (100_000..=100_005).map(|n| format!("e{n}")).collect();
    assert_eq!(filtered(&store).await, want);
    assert_eq!(stream(&store).await, want[..5]);
    assert_eq!(store.compact(0).await.unwrap(), 140_000);
    assert_eq!(filtered(&store).await, want);
    assert_eq!(stream(&store).await, want[..5]);
    // A wide read still sees every event, in order.
    let all = filter_all(&store, "e", 10_000).await;
    assert_eq!(all.len(), 140_000);
    assert_eq!(all[139_999], "e139999");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn compaction_moves_events_to_segments_without_changing_reads() {
    let dir = temp_dir("compact");
    let s = scope();
    let now = now_ms();
    // Two streams, events over three hours, distinct timestamps.
    let mut expected_a = Vec::new();
    let mut expected_b = Vec::new();
    let mut expected_all = Vec::new();
    {
        let store = Store::open(&dir, StoreConfig::default()).unwrap();
        store
            .create_log_group(&s, "g", CreateLogGroup::default())
            .await
            .unwrap();
        store.create_log_stream(&s, "g", "a").await.unwrap();
        store.create_log_stream(&s, "g", "b").await.unwrap();
        let mut batch_a = Vec::new();
        let mut batch_b = Vec::new();
        for i in 0..90i64 {
            let ts = now - 3 * 3_600_000 + i * 110_000;
            let msg = format!("{} event {i:03}", if i % 3 == 0 { "ERROR" } else { "INFO" });
            if i % 2 == 0 {
                batch_a.push(ev(ts, &format!("a {msg}")));
                expected_a.push(format!("a {msg}"));
            } else {
                batch_b.push(ev(ts, &format!("b {msg}")));
                expected_b.push(format!("b {msg}"));
            }
        }
        store.put_log_events(&s, "g", "a", &batch_a).await.unwrap();
        store.put_log_events(&s, "g", "b", &batch_b).await.unwrap();
        let before_a = page_all(&store, "a", true, 7).await;
        assert_eq!(before_a, expected_a);

        let moved = store.compact(0).await.unwrap();
        assert_eq!(moved, 90);
        let segment_files = std::fs::read_dir(dir.join("segments")).unwrap().count();
        assert!(segment_files >= 1);
        // More events arrive in the hot tier after compaction.
        store
            .put_log_events(&s, "g", "a", &[ev(now - 1, "a ERROR late")])
            .await
            .unwrap();
        expected_a.push("a ERROR late".into());
        expected_all.extend(expected_a.iter().cloned());
        expected_all.extend(expected_b.iter().cloned());
        expected_all.sort_by_key(|m| {
            // Order by the event number embedded in the message; "late" last.
            m.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(i64::MAX)
        });

        assert_eq!(page_all(&store, "a", true, 7).await, expected_a);
        assert_eq!(page_all(&store, "a", false, 5).await, expected_a);
        assert_eq!(page_all(&store, "b", true, 100).await, expected_b);
        let errors: Vec<String> = expected_all
            .iter()
            .filter(|m| m.contains("ERROR"))
            .cloned()
            .collect();
        assert_eq!(filter_all(&store, "ERROR", 4).await, errors);
        assert_eq!(filter_all(&store, "", 13).await, expected_all);
        // Compacting again moves only what is new; its segment overlaps the
        // first in time.
        assert_eq!(store.compact(0).await.unwrap(), 1);
        // A tiny scan budget cuts pages short (even empty ones) but never
        // skips or repeats an event, across overlapping segments.
        let late: Vec<String> = expected_all
            .iter()
            .filter(|m| m.contains("late"))
            .cloned()
            .collect();
        assert_eq!(filter_all_within(&store, "late", 10, 3).await, late);
        assert_eq!(filter_all_within(&store, "", 7, 5).await, expected_all);
        assert_eq!(page_all(&store, "a", true, 3).await, expected_a);
    }
    // The segment index survives a restart.
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(page_all(&store, "a", true, 7).await, expected_a);
    assert_eq!(filter_all(&store, "", 1000).await, expected_all);
    let streams = store.log_streams(&s, "g").unwrap();
    assert!(streams.iter().all(|st| st.stored_bytes > 0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retention_drops_whole_expired_segments_and_orphans_are_removed() {
    let dir = temp_dir("segretention");
    let config = StoreConfig {
        max_event_age_ms: 30 * 86_400_000,
        ..StoreConfig::default()
    };
    let store = Store::open(&dir, config).unwrap();
    let s = scope();
    let now = now_ms();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "s").await.unwrap();
    store
        .put_log_events(
            &s,
            "g",
            "s",
            &[
                ev(now - 3 * 86_400_000, "old-1"),
                ev(now - 3 * 86_400_000 + 1, "old-2"),
            ],
        )
        .await
        .unwrap();
    store
        .put_log_events(&s, "g", "s", &[ev(now, "fresh")])
        .await
        .unwrap();
    // An unindexed file, as a crash between writing and indexing leaves.
    let orphan_dir = dir.join("segments").join("ffffffffffffffff");
    std::fs::create_dir_all(&orphan_dir).unwrap();
    std::fs::write(orphan_dir.join("0-0.parquet"), b"not indexed").unwrap();
    assert_eq!(store.compact(0).await.unwrap(), 3);
    assert!(!orphan_dir.join("0-0.parquet").exists(), "orphan removed");
    let files = walk;
    fn walk(d: &std::path::Path) -> usize {
        std::fs::read_dir(d)
            .map(|it| {
                it.filter_map(Result::ok)
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    assert_eq!(
        files(&dir.join("segments")),
        2,
        "one segment per event hour"
    );
    store.put_retention_policy(&s, "g", 1).await.unwrap();
    assert_eq!(store.enforce_retention().await.unwrap(), 2);
    assert_eq!(files(&dir.join("segments")), 1);
    assert_eq!(page_all(&store, "s", true, 10).await, ["fresh"]);
    assert_eq!(
        store.log_streams(&s, "g").unwrap()[0].stored_bytes,
        "fresh".len() as u64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn filters_are_limited_per_group_and_keep_their_creation_time() {
    let dir = temp_dir("filters");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    let sub = |name: &str, created: i64| SubscriptionFilter {
        filter_name: name.into(),
        filter_pattern: String::new(),
        destination_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        role_arn: None,
        distribution: "ByLogStream".into(),
        creation_time: created,
        apply_on_transformed_logs: false,
    };
    store
        .put_subscription_filter(&s, "g", sub("a", 1))
        .await
        .unwrap();
    store
        .put_subscription_filter(&s, "g", sub("b", 2))
        .await
        .unwrap();
    let third = store
        .put_subscription_filter(&s, "g", sub("c", 3))
        .await
        .unwrap_err();
    assert_eq!(third.error_type(), "LimitExceededException");
    // Replacing an existing filter is not a new one, and keeps its creation time.
    store
        .put_subscription_filter(&s, "g", sub("a", 99))
        .await
        .unwrap();
    let group = store.log_group(&s, "g").unwrap();
    assert_eq!(group.subscription_filters["a"].creation_time, 1);
    assert_eq!(group.subscription_filters.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every batch a scan of `groups` in `[start, end]` yields with `options`.
async fn scan_batches(
    store: &Store,
    groups: &[&str],
    start: i64,
    end: i64,
    options: &crate::scan::ReadOptions,
) -> Vec<arrow_array::RecordBatch> {
    use futures_util::StreamExt;
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let scan = std::sync::Arc::new(store.scan(&scope(), &groups, start, end).await.unwrap());
    let mut batches = Vec::new();
    for part in 0..scan.parts.len() {
        let mut stream = scan.read_part(part, options);
        while let Some(batch) = stream.next().await {
            batches.push(batch.unwrap());
        }
    }
    batches
}

/// Every row a scan yields, as (stream, timestamp, message, seq), sorted.
async fn scanned(
    store: &Store,
    groups: &[&str],
    start: i64,
    end: i64,
    with_message: bool,
) -> Vec<(String, i64, String, u64)> {
    use arrow_array::cast::AsArray;
    let options = crate::scan::ReadOptions::all(with_message);
    let mut rows = Vec::new();
    for batch in scan_batches(store, groups, start, end, &options).await {
        let streams = arrow_array::cast::as_dictionary_array::<arrow_array::types::Int32Type>(
            batch.column(1),
        );
        let names = streams.values().as_string::<i32>();
        let ts = batch
            .column(2)
            .as_primitive::<arrow_array::types::Int64Type>();
        let msg = batch.column(5).as_string::<i32>();
        let seq = batch
            .column(4)
            .as_primitive::<arrow_array::types::UInt64Type>();
        for i in 0..batch.num_rows() {
            let key = streams.keys().value(i) as usize;
            rows.push((
                names.value(key).to_string(),
                ts.value(i),
                msg.value(i).to_string(),
                seq.value(i),
            ));
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn scans_read_both_tiers_within_the_range_and_skip_deleted_streams() {
    let dir = temp_dir("scan");
    let store = store_with_group(&dir).await;
    let now = now_ms();
    let s = scope();
    for stream in ["a", "b", "gone"] {
        store.create_log_stream(&s, "g", stream).await.unwrap();
        store
            .put_log_events(
                &s,
                "g",
                stream,
                &[
                    ev(now - 3000, &format!("{stream}1")),
                    ev(now - 2000, &format!("{stream}2")),
                ],
            )
            .await
            .unwrap();
    }
    // Everything so far moves to a segment; one more event stays hot.
    assert!(store.compact(0).await.unwrap() > 0);
    store
        .put_log_events(&s, "g", "a", &[ev(now - 1000, "a3")])
        .await
        .unwrap();
    store.delete_log_stream(&s, "g", "gone").await.unwrap();

    let all = scanned(&store, &["g"], now - 10_000, now, true).await;
    let msgs: Vec<&str> = all.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(msgs, ["a1", "a2", "a3", "b1", "b2"]);
    // The range is inclusive at both ends and cuts inside segments.
    let cut = scanned(&store, &["g"], now - 2000, now - 1000, true).await;
    let msgs: Vec<&str> = cut.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(msgs, ["a2", "a3", "b2"]);
    // Without messages, rows still come with stream and time.
    let bare = scanned(&store, &["g"], now - 10_000, now, false).await;
    assert_eq!(bare.len(), 5);
    assert!(bare.iter().all(|r| r.2.is_empty()));
    assert_eq!(bare[0].0, "a");
    // Unknown groups are refused like every read.
    let err = store
        .scan(&s, &["nope".to_string()], 0, now)
        .await
        .err()
        .unwrap();
    assert_eq!(err.error_type(), "ResourceNotFoundException");
    // Point lookups for GetLogRecord, from either tier (a3 is hot, a1 cold).
    for row in [&all[2], &all[0]] {
        let found = store
            .get_event(&s, "g", &row.0, row.1, row.3)
            .await
            .unwrap()
            .expect("event found");
        assert_eq!(found.message, row.2);
        let missing = store
            .get_event(&s, "g", &row.0, row.1, row.3 + 1000)
            .await
            .unwrap();
        assert!(missing.is_none());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rows a scan of group "g" gives in `[lo, hi]` when neither times nor
/// streams are asked, and how many of them came with a zero timestamp (the
/// placeholder of a segment read without its times).
async fn scanned_without_locating(store: &Store, lo: i64, hi: i64) -> (usize, usize) {
    use arrow_array::cast::AsArray;
    let options = crate::scan::ReadOptions {
        locate: false,
        ..Default::default()
    };
    let (mut rows, mut zeros) = (0, 0);
    for batch in scan_batches(store, &["g"], lo, hi, &options).await {
        rows += batch.num_rows();
        let ts = batch
            .column(2)
            .as_primitive::<arrow_array::types::Int64Type>();
        zeros += ts.values().iter().filter(|&&t| t == 0).count();
    }
    (rows, zeros)
}

#[tokio::test]
async fn segment_scans_cut_runs_of_streams_spanning_batches() {
    // Segment rows are sorted by stream and read in batches of
    // SCAN_BATCH_ROWS: a batch holds runs of several streams, some of a
    // deleted stream, some only partly in range. Every combination must
    // give exactly the rows a row-by-row check would.
    let dir = temp_dir("scan-runs");
    let store = store_with_group(&dir).await;
    let now = now_ms();
    let s = scope();
    // Stream ids follow creation, so rows sort as a, gone, b, c.
    let per_stream = crate::scan::SCAN_BATCH_ROWS * 3 / 4;
    let mut puts: Vec<(String, i64, String)> = Vec::new();
    for stream in ["a", "gone", "b", "c"] {
        store.create_log_stream(&s, "g", stream).await.unwrap();
        let events: Vec<InputLogEvent> = (0..per_stream)
            .map(|i| ev(now - 20_000 + i as i64, &format!("{stream}{i}")))
            .collect();
        for e in &events {
            puts.push((stream.to_string(), e.timestamp, e.message.clone()));
        }
        store
            .put_log_events(&s, "g", stream, &events)
            .await
            .unwrap();
    }
    assert!(store.compact(0).await.unwrap() > 0);
    store.delete_log_stream(&s, "g", "gone").await.unwrap();
    let first = now - 20_000;
    let last = first + per_stream as i64 - 1;
    for (lo, hi) in [
        (first - 10, last + 10),
        (first, last),
        (first + 1, last),
        (first + 100, last - 100),
        (first, first),
        (last, last + 5),
    ] {
        let mut want: Vec<(String, i64, String)> = puts
            .iter()
            .filter(|(st, t, _)| st != "gone" && *t >= lo && *t <= hi)
            .cloned()
            .collect();
        want.sort();
        let got: Vec<(String, i64, String)> = scanned(&store, &["g"], lo, hi, true)
            .await
            .into_iter()
            .map(|(st, t, m, _)| (st, t, m))
            .collect();
        assert_eq!(got.len(), want.len(), "range {lo}..={hi}");
        assert!(got == want, "range {lo}..={hi}");
        // Without times and streams asked, a segment wholly in range (and
        // here, with a deleted stream, none is) still gives exactly its rows.
        assert_eq!(
            scanned_without_locating(&store, lo, hi).await.0,
            want.len(),
            "range {lo}..={hi}"
        );
    }
    // Once the deleted stream's rows are gone from the segments, a scan
    // over all of them may skip times and streams, and still counts right.
    let live = puts.iter().filter(|(st, _, _)| st != "gone").count();
    let fresh = temp_dir("scan-runs-live");
    let store2 = Store::open(&fresh, StoreConfig::default()).unwrap();
    store2
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    for stream in ["a", "b", "c"] {
        store2.create_log_stream(&s, "g", stream).await.unwrap();
        let events: Vec<InputLogEvent> = puts
            .iter()
            .filter(|(st, _, _)| st == stream)
            .map(|(_, t, m)| ev(*t, m))
            .collect();
        store2
            .put_log_events(&s, "g", stream, &events)
            .await
            .unwrap();
    }
    assert!(store2.compact(0).await.unwrap() > 0);
    // Every row counted, and none of their times read.
    assert_eq!(
        scanned_without_locating(&store2, first - 10, last + 10).await,
        (live, live)
    );
    assert_eq!(
        scanned_without_locating(&store2, first + 1, last).await.0,
        live - 3
    );
    let _ = std::fs::remove_dir_all(&fresh);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts per tuple of `fields` values from a counted read of group "g".
async fn counted(store: &Store, fields: &[&str], lo: i64, hi: i64) -> (BTreeCounts, usize) {
    use arrow_array::cast::AsArray;
    let options = crate::scan::ReadOptions {
        locate: false,
        counted: true,
        fields: std::sync::Arc::new(fields.iter().map(|f| vec![f.to_string()]).collect()),
        ..Default::default()
    };
    let mut counts = BTreeCounts::new();
    let mut rows = 0;
    for batch in scan_batches(store, &["g"], lo, hi, &options).await {
        assert_eq!(
            batch.schema(),
            crate::scan::counted_scan_schema(fields.len())
        );
        rows += batch.num_rows();
        let n = batch
            .column(crate::scan::BASE_SCAN_COLUMNS + fields.len())
            .as_primitive::<arrow_array::types::Int64Type>();
        for i in 0..batch.num_rows() {
            let key: Vec<Option<String>> = (0..fields.len())
                .map(|k| {
                    let c = batch
                        .column(crate::scan::BASE_SCAN_COLUMNS + k)
                        .as_string_view();
                    (!arrow_array::Array::is_null(c, i)).then(|| c.value(i).to_string())
                })
                .collect();
            *counts.entry(key).or_insert(0) += n.value(i);
        }
    }
    (counts, rows)
}

type BTreeCounts = std::collections::BTreeMap<Vec<Option<String>>, i64>;

#[tokio::test]
async fn counted_reads_match_counting_the_rows() {
    // Counted reads count a segment on its field columns' dictionary codes
    // when it needs no row cut, and count rows everywhere else (cut ranges,
    // a deleted stream's segment, the hot tier, four fields). Every case
    // must give what counting the generated events gives.
    let dir = temp_dir("counted");
    let store = store_with_group(&dir).await;
    let now = now_ms();
    let s = scope();
    // (stream, timestamp, status, ip, route or none, method)
    type Row = (String, i64, String, String, Option<String>, String);
    let mut rows: Vec<Row> = Vec::new();
    // The events (three minutes of them) start at the top of the previous
    // hour, so each stream's fall in one hourly segment whatever the time
    // of day: the row counts asserted below depend on which segments a
    // range covers whole.
    let first = (now.div_euclid(3_600_000) - 1) * 3_600_000;
    // More than a row group (65,536 rows), so a segment has several
    // dictionaries per column; thousands of addresses, so tuples of three
    // fields are counted in a hash map rather than an array.
    let per_stream = 36_000;
    for stream in ["a", "gone", "b"] {
        store.create_log_stream(&s, "g", stream).await.unwrap();
        let mut events = Vec::new();
        for i in 0..per_stream {
            let status = ["200", "404", "500", "302", "201"][(i * 7 + stream.len()) % 5];
            let ip = format!("10.0.{}.{}", (i / 7) % 20, (i * 13) % 250);
            let route = (i % 4 != 0).then(|| ["/pets", "/users", "/orders"][i % 3].to_string());
            let method = ["GET", "POST"][i % 2];
            let route_json = route
                .as_ref()
                .map(|r| format!(r#","route":"{r}""#))
                .unwrap_or_default();
            let t = first + (i as i64) * 5;
            let message =
                format!(r#"{{"status":{status},"ip":"{ip}"{route_json},"method":"{method}"}}"#);
            events.push(ev(t, &message));
            rows.push((stream.into(), t, status.into(), ip, route, method.into()));
        }
        for chunk in events.chunks(10_000) {
            store.put_log_events(&s, "g", stream, chunk).await.unwrap();
        }
    }
    assert!(store.compact(0).await.unwrap() > 0);
    // Events after the compaction stay in the hot tier.
    let late: Vec<InputLogEvent> = (0..100)
        .map(|i| {
            ev(
                now - 1000 + i,
                r#"{"status":404,"ip":"10.9.9.9","method":"GET"}"#,
            )
        })
        .collect();
    store.put_log_events(&s, "g", "b", &late).await.unwrap();
    for e in &late {
        rows.push((
            "b".into(),
            e.timestamp,
            "404".into(),
            "10.9.9.9".into(),
            None,
            "GET".into(),
        ));
    }
    let value = |r: &Row, f: &str| -> Option<String> {
        match f {
            "status" => Some(r.2.clone()),
            "ip" => Some(r.3.clone()),
            "route" => r.4.clone(),
            "method" => Some(r.5.clone()),
            _ => None,
        }
    };
    let expect = |deleted: bool, fields: &[&str], lo: i64, hi: i64| -> BTreeCounts {
        let mut out = BTreeCounts::new();
        for r in rows
            .iter()
            .filter(|r| !(deleted && r.0 == "gone") && r.1 >= lo && r.1 <= hi)
        {
            let key = fields.iter().map(|f| value(r, f)).collect();
            *out.entry(key).or_insert(0) += 1;
        }
        out
    };
    let last = first + per_stream as i64 * 5;
    let field_sets: [&[&str]; 6] = [
        &[],
        &["status"],
        &["route"],
        &["status", "route"],
        &["ip", "status", "route"],
        &["ip", "status", "route", "method"],
    ];
    let ranges = [(first - 10, now), (first + 1, now), (first, last - 3_000)];
    for deleted in [false, true] {
        if deleted {
            store.delete_log_stream(&s, "g", "gone").await.unwrap();
        }
        for fields in field_sets {
            for (lo, hi) in ranges {
                let want = expect(deleted, fields, lo, hi);
                let (got, rows_read) = counted(&store, fields, lo, hi).await;
                assert!(
                    got == want,
                    "fields {fields:?}, range {lo}..={hi}, deleted {deleted}"
                );
                let events: i64 = want.values().sum();
                // Whole live segments come back as a few rows per value
                // tuple, never as one row per event.
                if !deleted && lo < first && fields.len() <= 3 {
                    // (Three fields here take thousands of distinct tuples.)
                    let most = if fields.len() < 3 {
                        events / 100
                    } else {
                        events / 2
                    };
                    assert!(
                        (rows_read as i64) < most,
                        "fields {fields:?}: {rows_read} rows for {events} events"
                    );
                } else if fields.len() > 3 || lo >= first {
                    assert_eq!(rows_read as i64, events, "fields {fields:?} read as rows");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn segments_written_with_snappy_still_read() {
    // Segments are written with LZ4 now; files written with Snappy before
    // must read exactly as they did: rows, field columns and counts.
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::Compression;
    let dir = temp_dir("snappy");
    let messages: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                r#"{{"status":{},"ip":"10.0.0.{}","n":{i}}}"#,
                200 + i % 3,
                i % 7
            )
        })
        .collect();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let (store, now) = store_with_messages(&dir, &refs).await;
    assert!(store.compact(0).await.unwrap() > 0);
    let (lo, hi) = (now - 10_000, now);
    let rows = scanned(&store, &["g"], lo, hi, true).await;
    let fields = scanned_fields(&store, "g", &["status", "ip"], lo, hi).await;
    let counts = counted(&store, &["status"], lo, hi).await.0;
    assert_eq!(rows.len(), 3000);
    let segment_files = files_under(&dir.join("segments"));
    assert!(!segment_files.is_empty());
    for file in segment_files {
        let bytes = bytes::Bytes::from(std::fs::read(&file).unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let codec = reader.metadata().row_group(0).column(4).compression();
        assert_eq!(codec, Compression::LZ4_RAW, "messages are written with LZ4");
        let schema = reader.schema().clone();
        let batches: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut out = Vec::new();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
        for b in &batches {
            writer.write(b).unwrap();
        }
        writer.close().unwrap();
        let check =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(out.clone())).unwrap();
        assert_eq!(
            check.metadata().row_group(0).column(4).compression(),
            Compression::SNAPPY
        );
        std::fs::write(&file, out).unwrap();
    }
    assert!(scanned(&store, &["g"], lo, hi, true).await == rows);
    assert!(scanned_fields(&store, "g", &["status", "ip"], lo, hi).await == fields);
    assert_eq!(counted(&store, &["status"], lo, hi).await.0, counts);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn settings_survive_a_reopen() {
    let dir = temp_dir("settings");
    {
        let store = Store::open(&dir, StoreConfig::default()).unwrap();
        store.put_setting("stage/a/dev", b"one").await.unwrap();
        store.put_setting("stage/a/prod", b"two").await.unwrap();
        store.put_setting("account", b"x").await.unwrap();
        store.delete_setting("stage/a/prod").await.unwrap();
    }
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(
        store.settings("stage/").unwrap(),
        [("stage/a/dev".to_string(), b"one".to_vec())]
    );
    assert_eq!(store.settings("account").unwrap().len(), 1);
    // Settings are not log groups.
    assert!(store.log_groups(&scope()).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small deterministic generator for the block tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test]
async fn interleaved_calls_read_back_in_order_whatever_the_bounds() {
    // Many calls whose events overlap in time and span several blocks each:
    // every read (forward, backward, bounded, paged, filtered) must return
    // exactly what a sorted list of all events gives.
    let dir = temp_dir("interleaved");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    let base = now_ms() - 60_000;
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "a").await.unwrap();
    let mut rng = Lcg(7);
    let mut all: Vec<(i64, String)> = Vec::new();
    for call in 0..40 {
        let start = base + rng.next(20_000) as i64;
        let mut t = start;
        let batch: Vec<InputLogEvent> = (0..1 + rng.next(30))
            .map(|i| {
                t += rng.next(400) as i64;
                ev(t, &format!("c{call}-e{i}"))
            })
            .collect();
        store.put_log_events(&s, "g", "a", &batch).await.unwrap();
        all.extend(batch.into_iter().map(|e| (e.timestamp, e.message)));
    }
    let everything = store
        .read_stream(&s, "g", "a", None, None, None, true, 10_000)
        .await
        .unwrap();
    assert_eq!(everything.len(), all.len());
    // Sequence numbers grow in put order, so the expected order is the
    // events' (timestamp, seq) order, which the store returned with them.
    let keys: Vec<(i64, u64)> = everything.iter().map(|e| (e.timestamp, e.seq)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let mut expected: Vec<(i64, String)> = all.clone();
    expected.sort_by_key(|(t, _)| *t);
    let got: Vec<(i64, String)> = everything
        .iter()
        .map(|e| (e.timestamp, e.message.clone()))
        .collect();
    let mut got_by_time = got.clone();
    got_by_time.sort();
    expected.sort();
    assert_eq!(got_by_time, expected);

    let messages = |v: &[LogEvent]| v.iter().map(|e| e.message.clone()).collect::<Vec<_>>();
    let in_order = messages(&everything);
    assert_eq!(page_all(&store, "a", true, 7).await, in_order);
    assert_eq!(page_all(&store, "a", false, 5).await, in_order);
    assert_eq!(filter_all(&store, "-e1", 3).await, {
        in_order
            .iter()
            .filter(|m| m.contains("-e1"))
            .cloned()
            .collect::<Vec<_>>()
    });
    for _ in 0..30 {
        let lo = base + rng.next(25_000) as i64;
        let hi = lo + rng.next(8_000) as i64;
        let want: Vec<String> = everything
            .iter()
            .filter(|e| e.timestamp >= lo && e.timestamp < hi)
            .map(|e| e.message.clone())
            .collect();
        let forward = store
            .read_stream(&s, "g", "a", Some(lo), Some(hi), None, true, 10_000)
            .await
            .unwrap();
        assert_eq!(messages(&forward), want, "forward [{lo}, {hi})");
        let limit = 1 + rng.next(10) as usize;
        let backward = store
            .read_stream(&s, "g", "a", Some(lo), Some(hi), None, false, limit)
            .await
            .unwrap();
        let tail = want[want.len().saturating_sub(limit)..].to_vec();
        assert_eq!(
            messages(&backward),
            tail,
            "backward [{lo}, {hi}) limit {limit}"
        );
    }
    // Every event is reachable by its coordinates (GetLogRecord).
    for e in everything.iter().step_by(17) {
        let got = store
            .get_event(&s, "g", "a", e.timestamp, e.seq)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(got.message, e.message);
    }
    assert!(store
        .get_event(&s, "g", "a", everything[0].timestamp, u64::MAX)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_store_with_one_entry_per_event_is_migrated_into_blocks() {
    // Write through the store, then rewrite its hot tier in the layout
    // before blocks (keyspace `events`, one entry per event), as an older
    // version left it; opening again must bring every event back.
    let dir = temp_dir("migrate");
    let s = scope();
    let now = now_ms();
    let before = {
        let store = Store::open(&dir, StoreConfig::default()).unwrap();
        store
            .create_log_group(&s, "g", CreateLogGroup::default())
            .await
            .unwrap();
        store.create_log_stream(&s, "g", "a").await.unwrap();
        store.create_log_stream(&s, "g", "b").await.unwrap();
        for i in 0..5 {
            let batch: Vec<_> = (0..4)
                .map(|j| ev(now - 5_000 + i * 700 + j, &format!("a{i}.{j}")))
                .collect();
            store.put_log_events(&s, "g", "a", &batch).await.unwrap();
            store
                .put_log_events(&s, "g", "b", &[ev(now - 4_000 + i, &format!("b{i}"))])
                .await
                .unwrap();
        }
        page_all(&store, "a", true, 100).await
    };
    {
        let db = fjall::Database::builder(&dir).open().unwrap();
        let blocks_ks = db
            .keyspace("blocks", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let old = db
            .keyspace("events", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let mut n = 0;
        for g in blocks_ks.iter() {
            let (k, v) = g.into_inner().unwrap();
            let block = blocks::Block::parse(&k, v).unwrap();
            for (ts, seq, m) in block.events() {
                let key = keys::event(block.stream_id, ts, seq);
                let value =
                    keys::event_value(block.ingestion_time, std::str::from_utf8(m).unwrap());
                old.insert(key, value).unwrap();
                n += 1;
            }
        }
        assert_eq!(n, 25);
        db.delete_keyspace(blocks_ks).unwrap();
        db.persist(fjall::PersistMode::SyncAll).unwrap();
    }
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(page_all(&store, "a", true, 100).await, before);
    assert_eq!(
        page_all(&store, "b", false, 2).await,
        ["b0", "b1", "b2", "b3", "b4"]
    );
    drop(store);
    // The old keyspace is gone: a second open finds nothing to migrate.
    let db = fjall::Database::builder(&dir).open().unwrap();
    assert!(!db.keyspace_exists("events"));
}

#[tokio::test]
async fn append_writes_many_streams_at_once_and_refuses_only_the_bad_ones() {
    let dir = temp_dir("append");
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let s = scope();
    let now = now_ms();
    store
        .create_log_group(&s, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&s, "g", "a").await.unwrap();
    store.create_log_stream(&s, "g", "b").await.unwrap();
    // Beyond PutLogEvents' 10,000-event limit: the in-process path has none.
    let many: Vec<_> = (0..12_000).map(|i| ev(now - 12_000 + i, "x")).collect();
    let out_of_order = vec![ev(now, "late"), ev(now - 1, "early")];
    let outcomes = store
        .append(
            &s,
            &[
                ("g", "a", many.as_slice()),
                ("g", "b", &[ev(now, "b0")][..]),
                ("g", "missing", &[ev(now, "m")][..]),
                ("g", "b", out_of_order.as_slice()),
            ],
        )
        .await;
    assert_eq!(outcomes[0].as_ref().unwrap().accepted, 12_000);
    assert_eq!(outcomes[1].as_ref().unwrap().accepted, 1);
    assert_eq!(
        outcomes[2].as_ref().unwrap_err().error_type(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        outcomes[3].as_ref().unwrap_err().error_type(),
        "InvalidParameterException"
    );
    assert_eq!(page_all(&store, "a", true, 10_000).await.len(), 12_000);
    assert_eq!(page_all(&store, "b", true, 10).await, ["b0"]);
}

/// Every row a scan yields with `fields` asked, as (message, field values),
/// in (timestamp, seq) order, plus the segments' field column lists.
async fn scanned_fields(
    store: &Store,
    group: &str,
    fields: &[&str],
    start: i64,
    end: i64,
) -> Vec<(String, Vec<Option<String>>)> {
    use arrow_array::cast::AsArray;
    use futures_util::StreamExt;
    let scan = std::sync::Arc::new(
        store
            .scan(&scope(), &[group.to_string()], start, end)
            .await
            .unwrap(),
    );
    let options = crate::scan::ReadOptions {
        message: true,
        seq: true,
        ingestion_time: true,
        locate: true,
        counted: false,
        fields: std::sync::Arc::new(
            fields
                .iter()
                .map(|f| f.split('.').map(str::to_string).collect())
                .collect(),
        ),
    };
    let mut rows = Vec::new();
    for part in 0..scan.parts.len() {
        let mut stream = scan.read_part(part, &options);
        while let Some(batch) = stream.next().await {
            let batch = batch.unwrap();
            assert_eq!(
                batch.num_columns(),
                crate::scan::BASE_SCAN_COLUMNS + fields.len()
            );
            let ts = batch
                .column(2)
                .as_primitive::<arrow_array::types::Int64Type>();
            let seq = batch
                .column(4)
                .as_primitive::<arrow_array::types::UInt64Type>();
            let msg = batch.column(5).as_string::<i32>();
            for i in 0..batch.num_rows() {
                let values = (0..fields.len())
                    .map(|k| {
                        let c = batch
                            .column(crate::scan::BASE_SCAN_COLUMNS + k)
                            .as_string_view();
                        (!arrow_array::Array::is_null(c, i)).then(|| c.value(i).to_string())
                    })
                    .collect();
                rows.push((
                    (ts.value(i), seq.value(i)),
                    msg.value(i).to_string(),
                    values,
                ));
            }
        }
    }
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|(_, m, v)| (m, v)).collect()
}

fn segment_fields(store: &Store, group: &str) -> Vec<Vec<String>> {
    let catalog = store.read();
    let entry = catalog.group(&scope(), group).unwrap();
    entry
        .segments
        .iter()
        .map(|m| {
            m.fields
                .iter()
                .map(|f| f.join("."))
                .collect::<Vec<_>>()
                .join(",")
        })
        .map(|joined| joined.split(',').map(str::to_string).collect())
        .collect()
}

/// A store in `dir` with an empty group `g`.
async fn store_with_group(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    store
        .create_log_group(&scope(), "g", CreateLogGroup::default())
        .await
        .unwrap();
    store
}

/// A store in `dir` with group `g`, stream `a` and `messages` put there one
/// millisecond apart, five seconds ago; returns it and the time it took.
async fn store_with_messages(dir: &std::path::Path, messages: &[&str]) -> (Store, i64) {
    let store = store_with_group(dir).await;
    let now = now_ms();
    let s = scope();
    store.create_log_stream(&s, "g", "a").await.unwrap();
    let events: Vec<InputLogEvent> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| ev(now - 5000 + i as i64, m))
        .collect();
    store.put_log_events(&s, "g", "a", &events).await.unwrap();
    (store, now)
}

#[tokio::test]
async fn segments_keep_json_fields_as_columns_that_answer_like_the_messages() {
    let dir = temp_dir("fields");
    let messages = [
        r#"{"status":"200","path":"/a","identity":{"sourceIp":"10.0.0.1"},"@t":1}"#,
        r#"{"status":"500","path":"/b","n":null,"user.id":"u1"}"#,
        "GET /plain 200",
        r#"{"status":"404","esc":"a\"b","list":[1,{"x":"y"}]}"#,
    ];
    let (store, now) = store_with_messages(&dir, &messages).await;
    let asked = [
        "status",
        "path",
        "identity.sourceIp",
        "@@t",
        "user.id",
        "esc",
        "list.1.x",
    ];
    // Read from the hot tier (every message parsed)...
    let hot = scanned_fields(&store, "g", &asked, now - 10_000, now).await;
    assert_eq!(hot.len(), 4);
    assert_eq!(hot[0].1[2].as_deref(), Some("10.0.0.1"));
    assert_eq!(hot[1].1[4].as_deref(), Some("u1"));
    assert_eq!(hot[3].1[5].as_deref(), Some("a\"b"));
    assert!(hot[2].1.iter().all(Option::is_none));
    // ...then from a segment that keeps them as columns: the same rows.
    assert_eq!(store.compact(0).await.unwrap(), 4);
    let kept = segment_fields(&store, "g");
    assert_eq!(kept.len(), 1);
    for f in asked {
        assert!(kept[0].iter().any(|k| k == f), "{f} kept in {kept:?}");
    }
    let cold = scanned_fields(&store, "g", &asked, now - 10_000, now).await;
    assert_eq!(cold, hot);
    // A field the segment does not keep is found by parsing the messages.
    let mixed = scanned_fields(&store, "g", &["status", "identity"], now - 10_000, now).await;
    assert_eq!(mixed[0].1[0].as_deref(), Some("200"));
    assert_eq!(mixed[0].1[1].as_deref(), Some(r#"{"sourceIp":"10.0.0.1"}"#));
    // The time range still cuts rows of a segment read from its columns.
    let cut = scanned_fields(&store, "g", &["status"], now - 4999, now - 4998).await;
    let statuses: Vec<_> = cut.iter().map(|r| r.1[0].clone()).collect();
    assert_eq!(statuses, [Some("500".to_string()), None]);
    // Segments survive a reopen with their field columns.
    drop(store);
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(segment_fields(&store, "g"), kept);
    let again = scanned_fields(&store, "g", &asked, now - 10_000, now).await;
    assert_eq!(again, hot);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_segment_with_broken_json_keeps_no_field_columns() {
    let dir = temp_dir("fields-broken");
    // The second message breaks after its "a": how much a query reads
    // decides whether it has fields, so no column could stand for it.
    let messages = [r#"{"a":"1","b":"2"}"#, r#"{"a":"3","b":"#];
    let (store, now) = store_with_messages(&dir, &messages).await;
    let hot_a = scanned_fields(&store, "g", &["a"], now - 10_000, now).await;
    let hot_ab = scanned_fields(&store, "g", &["a", "b"], now - 10_000, now).await;
    store.compact(0).await.unwrap();
    assert_eq!(segment_fields(&store, "g"), [[""]]);
    assert_eq!(
        scanned_fields(&store, "g", &["a"], now - 10_000, now).await,
        hot_a
    );
    assert_eq!(
        scanned_fields(&store, "g", &["a", "b"], now - 10_000, now).await,
        hot_ab
    );
    assert_eq!(hot_a[1].1[0].as_deref(), Some("3"));
    assert_eq!(hot_ab[1].1, [None, None]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn segment_index_entries_without_field_columns_still_read() {
    let old = r#"{"id":1,"group_id":2,"path":"segments/x.parquet","min_ts":0,"max_ts":5,"rows":3,"streams":[{"stream_id":7,"rows":3,"bytes":30}]}"#;
    let meta: SegmentMeta = serde_json::from_str(old).unwrap();
    assert!(meta.fields.is_empty());
    assert_eq!(serde_json::to_string(&meta).unwrap(), old);
}

#[tokio::test]
async fn scans_count_the_message_bytes_they_cover_on_every_path() {
    use futures_util::StreamExt;
    let dir = temp_dir("scan-bytes");
    // A broken message keeps the segment without field columns, so fields
    // are found by parsing the messages even though none is asked for.
    let messages = [r#"{"a":"1"}"#, r#"{"a":"22"}"#, r#"{"a":"#];
    let total: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let (store, now) = store_with_messages(&dir, &messages).await;
    let bytes = |store: Store, message: bool, fields: &'static [&'static str]| async move {
        let scan = std::sync::Arc::new(
            store
                .scan(&scope(), &["g".to_string()], now - 10_000, now)
                .await
                .unwrap(),
        );
        let options = crate::scan::ReadOptions {
            message,
            fields: std::sync::Arc::new(fields.iter().map(|f| vec![f.to_string()]).collect()),
            seq: false,
            ingestion_time: false,
            // Segments wholly in range skip their time and stream columns.
            locate: false,
            counted: false,
        };
        for part in 0..scan.parts.len() {
            let mut stream = scan.read_part(part, &options);
            while let Some(b) = stream.next().await {
                b.unwrap();
            }
        }
        scan.bytes_scanned()
    };
    assert_eq!(bytes(store.clone(), false, &["a"]).await, total);
    store.compact(0).await.unwrap();
    assert_eq!(bytes(store.clone(), false, &["a"]).await, total);
    assert_eq!(bytes(store.clone(), true, &[]).await, total);
    // Without messages or fields, a segment's average message size counts.
    assert_eq!(bytes(store.clone(), false, &[]).await, total / 3 * 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn pages_through_one_big_segment_both_ways_and_within_the_scan_budget() {
    // Three streams of interleaved events, all compacted into one segment
    // (the previous hour, so the events never straddle an hour boundary).
    let dir = temp_dir("segment-pages");
    let store = store_with_group(&dir).await;
    let s = scope();
    let first = (now_ms().div_euclid(3_600_000) - 1) * 3_600_000;
    let streams = ["a", "b", "c"];
    for (n, stream) in streams.iter().enumerate() {
        store.create_log_stream(&s, "g", stream).await.unwrap();
        // Repeated timestamps, so pages also cut between equal times.
        let events: Vec<InputLogEvent> = (0..500)
            .map(|i| ev(first + (i / 3) * 10 + n as i64, &format!("{stream}{i}")))
            .collect();
        store
            .put_log_events(&s, "g", stream, &events)
            .await
            .unwrap();
    }
    assert_eq!(
        store.compact(0).await.unwrap(),
        1500,
        "every event is compacted"
    );
    let all = filter_page(&store, None, 10_000, usize::MAX, &|_| true).await;
    assert_eq!(all.events.len(), 1500);
    assert!(all.next.is_none());
    let in_order = |events: &[LogEvent]| {
        events
            .windows(2)
            .all(|w| (w[0].timestamp, w[0].seq) < (w[1].timestamp, w[1].seq))
    };
    assert!(in_order(&all.events));

    // FilterLogEvents in pages of 7 matches with a budget of 50 examined
    // events per call: every match once, in order, and the budget cuts the
    // calls inside the segment (1,500 events need at least 30 calls).
    let wanted: Vec<String> = all
        .events
        .iter()
        .filter(|e| e.message.ends_with('7'))
        .map(|e| e.message.clone())
        .collect();
    let (got, calls) = filter_pages(&store, &|m| m.ends_with('7'), 7, 50).await;
    assert_eq!(got, wanted);
    assert!((30..=32).contains(&calls), "{calls} calls");

    // With nothing matching, a call still stops at its budget and says
    // where to go on.
    let empty = filter_page(&store, None, 7, 50, &|_| false).await;
    assert!(empty.events.is_empty());
    let next = empty.next.expect("the budget ran out inside the segment");
    assert_eq!(
        (next.timestamp, next.seq),
        (all.events[49].timestamp, all.events[49].seq)
    );

    // GetLogEvents pages through one stream forward and backward.
    let stream_b: Vec<String> = (0..500).map(|i| format!("b{i}")).collect();
    assert_eq!(page_all(&store, "b", true, 13).await, stream_b);
    assert_eq!(page_all(&store, "b", false, 13).await, stream_b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn small_blocks_are_kept_in_blob_files_not_in_the_engines_tables() {
    // A block of one 100-byte line is far below the engine's default
    // separation threshold (1 KiB); kept inline, its bytes would be
    // compressed into the tables at flush and linger there after the
    // block moved to Parquet, slowing every later hot-tier read.
    let dir = temp_dir("small-blocks");
    let store = store_with_group(&dir).await;
    let s = scope();
    store.create_log_stream(&s, "g", "a").await.unwrap();
    let now = now_ms();
    for i in 0..20i64 {
        let line = format!("{i:03} {}", "x".repeat(96));
        // Seconds apart: one block per call.
        let at = now - 60_000 + i * 2_000;
        store
            .put_log_events(&s, "g", "a", &[ev(at, &line)])
            .await
            .unwrap();
    }
    let events = store.inner.events.clone();
    tokio::task::spawn_blocking(move || {
        events.rotate_memtable_and_wait().unwrap();
        assert!(events.blob_file_count() > 0, "small blocks went inline");
    })
    .await
    .unwrap();
    let got = page_all(&store, "a", true, 50).await;
    assert_eq!(got.len(), 20);
    assert!(got[19].starts_with("019 "));
    // Moving them to Parquet leaves nothing behind in the engine: no
    // entries, and no tombstones for later reads to step over.
    assert_eq!(store.compact(0).await.unwrap(), 20);
    assert_eq!(store.inner.events.approximate_len(), 0);
    assert_eq!(page_all(&store, "a", true, 50).await, got);
}
