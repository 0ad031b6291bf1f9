//! A full disk becomes a clear ServiceUnavailableException, never a crash or
//! a silent acknowledgement. Runs on a small tmpfs it mounts itself (needs
//! root, as on the project's machines and CI); skipped with a message
//! elsewhere.

use std::process::Command;

use gatewatch_store::{now_ms, CreateLogGroup, InputLogEvent, Scope, Store, StoreConfig};

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn small_filesystem() -> Option<Mount> {
    let dir = std::env::temp_dir().join(format!("gatewatch-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Some(Mount(dir))
    } else {
        let _ = std::fs::remove_dir(&dir);
        None
    }
}

#[tokio::test]
async fn a_full_disk_is_reported_and_nothing_unwritten_is_acknowledged() {
    let Some(mount) = small_filesystem() else {
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        return;
    };
    let store = match Store::open(&mount.0.join("store"), StoreConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            // Failing to open on a full disk must itself be a clear error.
            assert_eq!(e.error_type(), "ServiceUnavailableException");
            return;
        }
    };
    let scope = Scope::new("000000000000", "us-east-1");
    store
        .create_log_group(&scope, "g", CreateLogGroup::default())
        .await
        .unwrap();
    store.create_log_stream(&scope, "g", "s").await.unwrap();
    // Incompressible messages, so the engine's compression cannot stretch the disk.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = move || {
        (0..2_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'!' + (state % 90) as u8)
            })
            .collect::<String>()
    };
    let mut acknowledged = 0usize;
    let mut failure = None;
    for _ in 0..5_000 {
        let batch: Vec<InputLogEvent> = (0..10)
            .map(|_| InputLogEvent {
                timestamp: now_ms(),
                message: noise(),
            })
            .collect();
        match store.put_log_events(&scope, "g", "s", &batch).await {
            Ok(out) => acknowledged += out.accepted,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("a 3 MB filesystem must fill up");
    assert_eq!(
        failure.error_type(),
        "ServiceUnavailableException",
        "{failure}"
    );
    assert!(acknowledged > 0);
    // Later writes are refused too, rather than acknowledged without a disk.
    let after = InputLogEvent {
        timestamp: now_ms(),
        message: "after".into(),
    };
    let again = store
        .put_log_events(&scope, "g", "s", &[after])
        .await
        .unwrap_err();
    assert_eq!(again.error_type(), "ServiceUnavailableException");
    // Everything acknowledged can still be read (pages hold at most 1 MB).
    let mut read = 0usize;
    let mut position = None;
    loop {
        let page = store
            .read_stream(&scope, "g", "s", None, None, position, true, 10_000)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        position = Some(gatewatch_store::Cursor::of(last));
        read += page.len();
    }
    assert!(read >= acknowledged, "{read} < {acknowledged}");
}
