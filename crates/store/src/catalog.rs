//! Log groups and log streams: create, delete, describe, retention, tags,
//! metric and subscription filters.

use std::collections::BTreeMap;

use fjall::Keyspace;

use crate::commit::{durable, Space, Write};
use crate::error::{StoreError, StoreResult};
use crate::model::{LogGroup, LogStream, MetricFilter, Scope, SubscriptionFilter};
use crate::segments::{index_key, SegmentMeta};
use crate::{keys, names, now_ms, Catalog, GroupEntry, Store};

/// Most tags a log group may carry.
pub const MAX_TAGS: usize = 50;
/// Most metric filters per log group.
pub const MAX_METRIC_FILTERS: usize = 100;
/// Most subscription filters per log group.
pub const MAX_SUBSCRIPTION_FILTERS: usize = 2;

/// Rebuilds the in-memory catalog from the `meta` keyspace.
pub(crate) fn load(meta: &Keyspace) -> StoreResult<Catalog> {
    let mut catalog = Catalog::default();
    let mut by_id: BTreeMap<u64, (Scope, String)> = BTreeMap::new();
    for item in meta.prefix(b"G\0") {
        let (key, value) = item.into_inner()?;
        let text = String::from_utf8_lossy(&key).into_owned();
        let mut parts = text.splitn(4, '\0').skip(1);
        let (Some(account), Some(region)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(group) = serde_json::from_slice::<LogGroup>(&value) else {
            tracing::warn!(key = %text, "skipping unreadable log group record");
            continue;
        };
        let scope = Scope::new(account, region);
        by_id.insert(group.id, (scope.clone(), group.name.clone()));
        catalog.scopes.entry(scope).or_default().insert(
            group.name.clone(),
            GroupEntry {
                group,
                streams: BTreeMap::new(),
                segments: Vec::new(),
            },
        );
    }
    // Segment index entries are `X\0{group id:016x}\0{segment id:016x}`.
    for item in meta.prefix(b"X\0") {
        let (_, value) = item.into_inner()?;
        let Ok(segment) = serde_json::from_slice::<SegmentMeta>(&value) else {
            continue;
        };
        if let Some((scope, name)) = by_id.get(&segment.group_id) {
            if let Some(entry) = catalog.scopes.get_mut(scope).and_then(|g| g.get_mut(name)) {
                entry.segments.push(segment);
            }
        }
    }
    for groups in catalog.scopes.values_mut() {
        for entry in groups.values_mut() {
            entry.segments.sort_by_key(|s| (s.min_ts, s.id));
        }
    }
    // Stream keys are `S\0{group id:016x}\0{name}`.
    for item in meta.prefix(b"S\0") {
        let (key, value) = item.into_inner()?;
        let group_id = key
            .get(2..18)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        let Some(group_id) = group_id else { continue };
        let Ok(stream) = serde_json::from_slice::<LogStream>(&value) else {
            continue;
        };
        if let Some((scope, name)) = by_id.get(&group_id) {
            if let Some(entry) = catalog.scopes.get_mut(scope).and_then(|g| g.get_mut(name)) {
                entry.streams.insert(stream.name.clone(), stream);
            }
        }
    }
    Ok(catalog)
}

/// Restarts the sweeping of streams deleted before the last shutdown.
pub(crate) fn resume_deletions(store: &Store, meta: &Keyspace) {
    let mut doomed = Vec::new();
    for item in meta.prefix(keys::DOOMED_PREFIX) {
        let Ok((key, _)) = item.into_inner() else {
            continue;
        };
        if let Some(id) = key
            .get(2..)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u64::from_str_radix(h, 16).ok())
        {
            doomed.push(id);
        }
    }
    if !doomed.is_empty() {
        store.sweep_streams(doomed);
    }
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}

pub(crate) fn group_write(scope: &Scope, group: &LogGroup) -> Write {
    Write::Put(
        Space::Meta,
        keys::group(scope, &group.name),
        json(group).into(),
    )
}

pub(crate) fn stream_write(group_id: u64, stream: &LogStream) -> Write {
    Write::Put(
        Space::Meta,
        keys::stream(group_id, &stream.name),
        json(stream).into(),
    )
}

/// Options of CreateLogGroup.
#[derive(Debug, Clone, Default)]
pub struct CreateLogGroup {
    /// Initial tags.
    pub tags: BTreeMap<String, String>,
    /// KMS key id.
    pub kms_key_id: Option<String>,
    /// `STANDARD` (default), `INFREQUENT_ACCESS`, `DELIVERY`.
    pub log_group_class: Option<String>,
    /// Deletion protection.
    pub deletion_protection_enabled: bool,
}

/// Creates or replaces a filter by name: a new name must fit under `limit`;
/// a replaced filter keeps its creation time.
fn upsert_filter<F>(
    filters: &mut BTreeMap<String, F>,
    name: String,
    mut filter: F,
    limit: usize,
    creation_time: impl Fn(&mut F) -> &mut i64,
) -> StoreResult<()> {
    let limit_reached = filters.len() >= limit;
    match filters.get_mut(&name) {
        Some(existing) => *creation_time(&mut filter) = *creation_time(existing),
        None if limit_reached => {
            return Err(StoreError::LimitExceeded("Resource limit exceeded.".into()))
        }
        None => {}
    }
    filters.insert(name, filter);
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> StoreResult<()> {
    for (k, v) in tags {
        names::tag_key(k)?;
        names::tag_value(v)?;
    }
    Ok(())
}

impl Store {
    /// CreateLogGroup.
    pub async fn create_log_group(
        &self,
        scope: &Scope,
        name: &str,
        options: CreateLogGroup,
    ) -> StoreResult<()> {
        names::new_log_group_name(name)?;
        check_tags(&options.tags)?;
        if options.tags.len() > MAX_TAGS {
            return Err(StoreError::constraint(
                "tags",
                "tags",
                "Member must have length less than or equal to 50",
            ));
        }
        let class = options
            .log_group_class
            .unwrap_or_else(|| "STANDARD".to_string());
        if !["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"].contains(&class.as_str()) {
            return Err(StoreError::constraint(
                &class,
                "logGroupClass",
                "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]",
            ));
        }
        let done = {
            let mut catalog = self.write();
            let groups = catalog.scopes.entry(scope.clone()).or_default();
            if groups.contains_key(name) {
                return Err(StoreError::ResourceAlreadyExists(
                    "The specified log group already exists".into(),
                ));
            }
            let (id, id_write) = self.allocate_id();
            let group = LogGroup {
                id,
                name: name.to_string(),
                creation_time: now_ms(),
                retention_in_days: None,
                tags: options.tags,
                kms_key_id: options.kms_key_id,
                log_group_class: class,
                deletion_protection_enabled: options.deletion_protection_enabled,
                metric_filters: BTreeMap::new(),
                subscription_filters: BTreeMap::new(),
            };
            let writes = vec![id_write, group_write(scope, &group)];
            groups.insert(
                name.to_string(),
                GroupEntry {
                    group,
                    streams: BTreeMap::new(),
                    segments: Vec::new(),
                },
            );
            self.enqueue(writes)
        };
        durable(done).await
    }

    /// Creates the group if it does not exist (used by the logging stage,
    /// which creates its groups on first use). Returns true when created.
    pub async fn ensure_log_group(&self, scope: &Scope, name: &str) -> StoreResult<bool> {
        match self
            .create_log_group(scope, name, CreateLogGroup::default())
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ResourceAlreadyExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// DeleteLogGroup: the group, its streams, filters and events.
    pub async fn delete_log_group(&self, scope: &Scope, name: &str) -> StoreResult<()> {
        names::log_group_name(name, "logGroupName")?;
        let (done, stream_ids, segments) = {
            let mut catalog = self.write();
            let entry = catalog.group(scope, name)?;
            if entry.group.deletion_protection_enabled {
                return Err(StoreError::Validation(
                    "Log group deletion protection is enabled; disable it before deleting the log group.".into(),
                ));
            }
            let entry = catalog
                .scopes
                .get_mut(scope)
                .and_then(|g| g.remove(name))
                .ok_or_else(StoreError::group_not_found)?;
            let mut writes = vec![Write::Delete(Space::Meta, keys::group(scope, name))];
            let mut ids = Vec::new();
            for stream in entry.streams.values() {
                writes.push(Write::Delete(
                    Space::Meta,
                    keys::stream(entry.group.id, &stream.name),
                ));
                writes.push(Write::Put(
                    Space::Meta,
                    keys::doomed(stream.id),
                    fjall::Slice::empty(),
                ));
                ids.push(stream.id);
            }
            for segment in &entry.segments {
                writes.push(Write::Delete(
                    Space::Meta,
                    index_key(entry.group.id, segment.id),
                ));
            }
            (self.enqueue(writes), ids, entry.segments)
        };
        durable(done).await?;
        self.sweep_streams(stream_ids);
        for segment in &segments {
            // Unindexed now; a failure here leaves a file the next start removes.
            let _ = self.inner.segment_files.delete(segment).await;
        }
        Ok(())
    }

    /// The groups of a scope, sorted by name.
    pub fn log_groups(&self, scope: &Scope) -> Vec<(LogGroup, u64)> {
        let catalog = self.read();
        catalog
            .scopes
            .get(scope)
            .map(|groups| {
                groups
                    .values()
                    .map(|e| {
                        (
                            e.group.clone(),
                            e.streams.values().map(|s| s.stored_bytes).sum(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One group.
    pub fn log_group(&self, scope: &Scope, name: &str) -> StoreResult<LogGroup> {
        Ok(self.read().group(scope, name)?.group.clone())
    }

    /// CreateLogStream.
    pub async fn create_log_stream(
        &self,
        scope: &Scope,
        group: &str,
        name: &str,
    ) -> StoreResult<()> {
        names::log_group_name(group, "logGroupName")?;
        names::log_stream_name(name, "logStreamName")?;
        let done = {
            let mut catalog = self.write();
            let entry = catalog.group_mut(scope, group)?;
            if entry.streams.contains_key(name) {
                return Err(StoreError::ResourceAlreadyExists(
                    "The specified log stream already exists".into(),
                ));
            }
            let (id, id_write) = self.allocate_id();
            let stream = LogStream {
                id,
                name: name.to_string(),
                creation_time: now_ms(),
                first_event_timestamp: None,
                last_event_timestamp: None,
                last_ingestion_time: None,
                stored_bytes: 0,
            };
            let writes = vec![id_write, stream_write(entry.group.id, &stream)];
            entry.streams.insert(name.to_string(), stream);
            self.enqueue(writes)
        };
        durable(done).await
    }

    /// Creates the stream if missing. Returns true when created.
    pub async fn ensure_log_stream(
        &self,
        scope: &Scope,
        group: &str,
        name: &str,
    ) -> StoreResult<bool> {
        match self.create_log_stream(scope, group, name).await {
            Ok(()) => Ok(true),
            Err(StoreError::ResourceAlreadyExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// DeleteLogStream.
    pub async fn delete_log_stream(
        &self,
        scope: &Scope,
        group: &str,
        name: &str,
    ) -> StoreResult<()> {
        names::log_group_name(group, "logGroupName")?;
        names::log_stream_name(name, "logStreamName")?;
        let (done, id) = {
            let mut catalog = self.write();
            let entry = catalog.group_mut(scope, group)?;
            let stream = entry
                .streams
                .remove(name)
                .ok_or_else(StoreError::stream_not_found)?;
            let writes = vec![
                Write::Delete(Space::Meta, keys::stream(entry.group.id, name)),
                Write::Put(Space::Meta, keys::doomed(stream.id), fjall::Slice::empty()),
            ];
            (self.enqueue(writes), stream.id)
        };
        durable(done).await?;
        self.sweep_streams(vec![id]);
        Ok(())
    }

    /// The streams of a group, sorted by name.
    pub fn log_streams(&self, scope: &Scope, group: &str) -> StoreResult<Vec<LogStream>> {
        Ok(self
            .read()
            .group(scope, group)?
            .streams
            .values()
            .cloned()
            .collect())
    }

    /// Removes the events of deleted streams in the background, then their
    /// `doomed` markers. Their ids are never reused, so leftovers are already
    /// unreachable; this only reclaims space.
    pub(crate) fn sweep_streams(&self, stream_ids: Vec<u64>) {
        let store = self.clone();
        let work = move || {
            for id in stream_ids {
                let start = keys::event(id, i64::MIN, 0);
                let end = keys::event(id, i64::MAX, u64::MAX);
                loop {
                    let batch: Vec<Vec<u8>> = store
                        .inner
                        .events
                        .range(start..=end)
                        .take(10_000)
                        .filter_map(|g| g.key().ok().map(|k| k.to_vec()))
                        .collect();
                    if batch.is_empty() {
                        break;
                    }
                    let writes = batch
                        .into_iter()
                        .map(|k| Write::Delete(Space::Events, k))
                        .collect();
                    let done = store.enqueue(writes);
                    if done.blocking_recv().map(|r| r.is_err()).unwrap_or(true) {
                        return;
                    }
                }
                let done = store.enqueue(vec![Write::Delete(Space::Meta, keys::doomed(id))]);
                let _ = done.blocking_recv();
            }
        };
        let _ = std::thread::Builder::new()
            .name("gatewatch-store-sweep".into())
            .spawn(work);
    }

    /// PutRetentionPolicy.
    pub async fn put_retention_policy(
        &self,
        scope: &Scope,
        group: &str,
        days: i64,
    ) -> StoreResult<()> {
        names::log_group_name(group, "logGroupName")?;
        let days = names::retention_days(days)?;
        self.update_group(scope, group, |g| {
            g.retention_in_days = Some(days);
            Ok(())
        })
        .await
    }

    /// DeleteRetentionPolicy.
    pub async fn delete_retention_policy(&self, scope: &Scope, group: &str) -> StoreResult<()> {
        names::log_group_name(group, "logGroupName")?;
        self.update_group(scope, group, |g| {
            g.retention_in_days = None;
            Ok(())
        })
        .await
    }

    /// Adds or replaces tags (TagResource, TagLogGroup).
    pub async fn tag_log_group(
        &self,
        scope: &Scope,
        group: &str,
        tags: BTreeMap<String, String>,
    ) -> StoreResult<()> {
        check_tags(&tags)?;
        let arn = scope.log_group_arn(group);
        self.update_group(scope, group, move |g| {
            let mut merged = g.tags.clone();
            merged.extend(tags);
            if merged.len() > MAX_TAGS {
                return Err(StoreError::TooManyTags {
                    message: "A resource can have no more than 50 tags.".into(),
                    resource_name: arn,
                });
            }
            g.tags = merged;
            Ok(())
        })
        .await
    }

    /// Removes tags by key (UntagResource, UntagLogGroup).
    pub async fn untag_log_group(
        &self,
        scope: &Scope,
        group: &str,
        keys: Vec<String>,
    ) -> StoreResult<()> {
        self.update_group(scope, group, move |g| {
            for k in &keys {
                g.tags.remove(k);
            }
            Ok(())
        })
        .await
    }

    /// PutMetricFilter (create or replace).
    pub async fn put_metric_filter(
        &self,
        scope: &Scope,
        group: &str,
        filter: MetricFilter,
    ) -> StoreResult<()> {
        names::filter_name(&filter.filter_name)?;
        self.update_group(scope, group, move |g| {
            let name = filter.filter_name.clone();
            upsert_filter(
                &mut g.metric_filters,
                name,
                filter,
                MAX_METRIC_FILTERS,
                |f| &mut f.creation_time,
            )
        })
        .await
    }

    /// DeleteMetricFilter.
    pub async fn delete_metric_filter(
        &self,
        scope: &Scope,
        group: &str,
        name: &str,
    ) -> StoreResult<()> {
        let name = name.to_string();
        self.update_group(scope, group, move |g| {
            g.metric_filters.remove(&name).map(|_| ()).ok_or_else(|| {
                StoreError::ResourceNotFound("The specified metric filter does not exist.".into())
            })
        })
        .await
    }

    /// PutSubscriptionFilter (create or replace; at most two per group).
    pub async fn put_subscription_filter(
        &self,
        scope: &Scope,
        group: &str,
        filter: SubscriptionFilter,
    ) -> StoreResult<()> {
        names::filter_name(&filter.filter_name)?;
        self.update_group(scope, group, move |g| {
            let name = filter.filter_name.clone();
            upsert_filter(
                &mut g.subscription_filters,
                name,
                filter,
                MAX_SUBSCRIPTION_FILTERS,
                |f| &mut f.creation_time,
            )
        })
        .await
    }

    /// DeleteSubscriptionFilter.
    pub async fn delete_subscription_filter(
        &self,
        scope: &Scope,
        group: &str,
        name: &str,
    ) -> StoreResult<()> {
        let name = name.to_string();
        self.update_group(scope, group, move |g| {
            g.subscription_filters
                .remove(&name)
                .map(|_| ())
                .ok_or_else(|| {
                    StoreError::ResourceNotFound(
                        "The specified subscription filter does not exist.".into(),
                    )
                })
        })
        .await
    }

    /// Applies `change` to a group and persists it durably.
    async fn update_group<F>(&self, scope: &Scope, group: &str, change: F) -> StoreResult<()>
    where
        F: FnOnce(&mut LogGroup) -> StoreResult<()>,
    {
        let done = {
            let mut catalog = self.write();
            let entry = catalog.group_mut(scope, group)?;
            let mut updated = entry.group.clone();
            change(&mut updated)?;
            let write = group_write(scope, &updated);
            entry.group = updated;
            self.enqueue(vec![write])
        };
        durable(done).await
    }
}
