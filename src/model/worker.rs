//! The agent worker's side of the wire: the worker record the server sends
//! when a worker connects ([`DeployedAsset`]), and the worker events a
//! worker posts back ([`WorkerEvent`]: heartbeats and capacity updates).
//!
//! See [`crate::sans_io::worker`] for the state machine that uses them.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::Timestamp;

wire_enum! {
    /// The kind of a deployed asset (a [`DeployedAsset`]'s `type`).
    ///
    /// ```
    /// use xpander_sdk::model::AssetType;
    /// assert_eq!("worker".parse::<AssetType>().unwrap(), AssetType::Worker);
    /// ```
    pub enum AssetType {
        /// A gateway.
        Gateway = "gateway",
        /// A controller.
        Controller = "controller",
        /// A worker (what `worker-registration` describes).
        Worker = "worker",
        /// A Redis instance.
        Redis = "redis",
    }
}

model_struct! {
    /// The worker record the server sends as the `data` of the agent
    /// stream's `worker-registration` event: its `id` is the worker id that
    /// heartbeats and capacity updates are posted to.
    ///
    /// Only the key `id` must be present. The official model requires
    /// `name`, `organization_id`, `type`, `created_at`, `last_heartbeat`,
    /// `created_by`, `dedicated_agent_id` and `parent_asset_id` too; they are
    /// read as optional here (absent: at their default, not written back):
    /// a worker uses none of them, and refusing a registration for one of
    /// them would leave the worker without an id. Unknown keys are kept in
    /// [`DeployedAsset::extra`].
    ///
    /// `Debug` shows the keys of `configuration` and `metadata`, not their
    /// values.
    ///
    /// ```
    /// use xpander_sdk::model::{AssetType, DeployedAsset};
    ///
    /// let asset: DeployedAsset = serde_json::from_str(r#"{
    ///     "id": "worker-1", "name": "worker-worker-1", "organization_id": "org-1",
    ///     "type": "worker", "created_at": "2026-11-28T03:38:30Z",
    ///     "last_heartbeat": "2026-11-28T03:38:30Z", "created_by": "user-1",
    ///     "dedicated_agent_id": "agent-1", "parent_asset_id": null,
    ///     "is_busy": false, "metadata": {"name": "Demo Agent", "unique_name": "demo-agent"}
    /// }"#)?;
    /// assert_eq!(asset.id, "worker-1");
    /// assert_eq!(asset.asset_type, AssetType::Worker);
    /// assert_eq!(asset.display_name(), Some("Demo Agent"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct DeployedAsset {
        /// The worker id.
        id: String,
        /// The asset's name.
        name: String = String::new(),
        /// The organization owning it.
        organization_id: String = String::new(),
        /// What kind of asset it is (`Unknown("")` when the server sent none).
        asset_type: AssetType = AssetType::Unknown(String::new()) => "type",
        /// When it was created (the epoch when the server sent none).
        created_at: Timestamp = Timestamp::default(),
        /// The last heartbeat the server saw (the epoch when the server sent none).
        last_heartbeat: Timestamp = Timestamp::default(),
        /// Who created it (`null` allowed).
        created_by: Option<String> = None,
        /// The agent it serves (`null` allowed).
        dedicated_agent_id: Option<String> = None,
        /// The asset it belongs to (`null` allowed).
        parent_asset_id: Option<String> = None,
        /// Its configuration (free-form; redacted by `Debug`).
        @secret configuration: Option<Value> = None,
        /// Whether the server sees it as busy.
        is_busy: bool = false,
        /// Free-form metadata (`name`, `unique_name`; redacted by `Debug`).
        @secret metadata: Option<Map<String, Value>> = None,
    }
}

impl DeployedAsset {
    /// The `name` in [`metadata`](Self::metadata) (the agent's display
    /// name), when it is a string.
    pub fn display_name(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("name")?.as_str()
    }
}

wire_enum! {
    /// The kind of a [`WorkerEvent`] (its `event`).
    pub enum WorkerEventType {
        /// "Still alive": `data` is the time of the beat (RFC 3339, UTC).
        Heartbeat = "worker-heartbeat",
        /// The worker's capacity changed: `data` is a [`CapacityUpdate`].
        CapacityUpdate = "worker-capacity-update",
        /// The worker is leaving: `data` is `{}`. Defined by the official
        /// models, never sent by the official runtime.
        Finished = "worker-finished",
    }
}

model_struct! {
    /// The envelope of every event a worker posts
    /// (`POST {events root}/events/{worker_id}?type=worker&agent_id=...`):
    /// a fresh UUID v4 `id`, the `event` name and its `data`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use xpander_sdk::model::{WorkerEvent, WorkerEventType};
    ///
    /// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    /// let beat = WorkerEvent::heartbeat(at);
    /// assert_eq!(beat.event, WorkerEventType::Heartbeat);
    /// assert_eq!(beat.data, "2026-11-18T11:06:40Z"); // RFC 3339, UTC
    /// assert_eq!(beat.id.len(), 36);
    ///
    /// let busy = serde_json::to_value(WorkerEvent::capacity(true))?;
    /// assert_eq!(busy["event"], "worker-capacity-update");
    /// assert_eq!(busy["data"], serde_json::json!({"is_busy": true}));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct WorkerEvent {
        /// A fresh UUID v4 per message.
        id: String,
        /// The event's name.
        event: WorkerEventType,
        /// The event's data.
        data: Value,
    }
}

model_struct! {
    /// The `data` of a `worker-capacity-update`: `{"is_busy": bool}`.
    ///
    /// Only `is_busy` is sent, as the official runtime does. The worker
    /// knows its free slots and keeps a sequence number of its capacity
    /// changes ([`crate::sans_io::worker::Call::Capacity`]), but neither goes
    /// on the wire: nothing says the server tolerates extra keys in this
    /// body, and a worker refused on every capacity update would be worse
    /// than one that sends less. Ordering is kept on the client side
    /// instead: updates are sent one at a time, only on change.
    pub struct CapacityUpdate {
        /// True when the worker has no free slot.
        is_busy: bool = false,
    }
}

impl WorkerEvent {
    /// An event of `kind` with `data` and a fresh random id.
    pub fn new(kind: WorkerEventType, data: Value) -> WorkerEvent {
        WorkerEvent::with_id(event_id(&mut fastrand::Rng::new()), kind, data)
    }

    /// An event with the id given.
    pub(crate) fn with_id(id: String, kind: WorkerEventType, data: Value) -> WorkerEvent {
        WorkerEvent {
            id,
            event: kind,
            data,
            ..WorkerEvent::__defaults()
        }
    }

    /// A heartbeat at `at`, written as RFC 3339 in UTC (the official
    /// runtime sends a naive local time, which a server cannot place).
    pub fn heartbeat(at: SystemTime) -> WorkerEvent {
        WorkerEvent::new(WorkerEventType::Heartbeat, heartbeat_data(at))
    }

    /// A capacity update.
    pub fn capacity(is_busy: bool) -> WorkerEvent {
        WorkerEvent::new(WorkerEventType::CapacityUpdate, capacity_data(is_busy))
    }
}

/// The data of a heartbeat: `at` as RFC 3339 in UTC.
pub(crate) fn heartbeat_data(at: SystemTime) -> Value {
    // A `SystemTime` outside jiff's range (beyond the year 9999) cannot be
    // written as RFC 3339 at all; the largest writable time stands in.
    let at = jiff::Timestamp::try_from(at).unwrap_or(jiff::Timestamp::MAX);
    Value::String(at.to_string())
}

/// The data of a capacity update.
pub(crate) fn capacity_data(is_busy: bool) -> Value {
    serde_json::to_value(CapacityUpdate {
        is_busy,
        ..CapacityUpdate::__defaults()
    })
    .unwrap_or_else(|_| serde_json::json!({ "is_busy": is_busy }))
}

/// A UUID v4 (the official runtime's id) from `rng`'s bytes.
pub(crate) fn event_id(rng: &mut fastrand::Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRATION: &str = r#"{"id":"worker-1","name":"worker-worker-1","organization_id":"org-test","type":"worker","created_at":"2026-11-28T03:38:30.000000+00:00","created_by":"user-1","last_heartbeat":"2026-11-28T03:38:30.000000+00:00","configuration":{"env":{"SECRET":"s3"}},"dedicated_agent_id":"agent-test","parent_asset_id":null,"is_busy":false,"metadata":{"name":"Demo Agent","unique_name":"demo-agent"},"region":"eu"}"#;

    #[test]
    fn registration_round_trips_and_hides_configuration() {
        let asset: DeployedAsset = serde_json::from_str(REGISTRATION).unwrap();
        assert_eq!(asset.id, "worker-1");
        assert_eq!(asset.dedicated_agent_id.as_deref(), Some("agent-test"));
        assert_eq!(asset.extra["region"], "eu");
        let back = serde_json::to_value(&asset).unwrap();
        let original: Value = serde_json::from_str(REGISTRATION).unwrap();
        assert_eq!(back, original);
        let debug = format!("{asset:?}");
        assert!(!debug.contains("s3"), "{debug}");
        assert!(debug.contains("worker-1"));
    }

    #[test]
    fn registration_requires_only_the_id() {
        let mut value: Value = serde_json::from_str(REGISTRATION).unwrap();
        value.as_object_mut().unwrap().remove("id");
        let err = serde_json::from_value::<DeployedAsset>(value).unwrap_err();
        assert!(err.to_string().contains("id"), "{err}");
        // Every other key of the official model may be absent: read, and
        // written back without it.
        let mut value: Value = serde_json::from_str(REGISTRATION).unwrap();
        for key in [
            "name",
            "organization_id",
            "type",
            "created_at",
            "last_heartbeat",
            "created_by",
            "dedicated_agent_id",
            "parent_asset_id",
        ] {
            value.as_object_mut().unwrap().remove(key);
        }
        let asset: DeployedAsset = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(asset.id, "worker-1");
        assert_eq!(asset.created_by, None);
        assert_eq!(asset.created_at, Timestamp::default());
        assert_eq!(serde_json::to_value(&asset).unwrap(), value);
        // An unknown type is kept.
        let value = REGISTRATION.replace(r#""type":"worker""#, r#""type":"sidecar""#);
        let asset: DeployedAsset = serde_json::from_str(&value).unwrap();
        assert_eq!(asset.asset_type, AssetType::Unknown("sidecar".into()));
    }

    #[test]
    fn heartbeat_is_rfc3339_utc() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_795_000_000_192_026);
        let beat = WorkerEvent::heartbeat(at);
        let text = beat.data.as_str().unwrap();
        assert_eq!(text, "2026-11-18T11:06:40.192026Z");
        // It reads back as the same instant, with a zero offset.
        let parsed = Timestamp::parse(text).unwrap();
        assert_eq!(parsed.to_system_time(), Some(at));
        assert_eq!(parsed.offset(), Some(jiff::tz::Offset::UTC));
    }

    #[test]
    fn envelope_ids_are_fresh_uuid_v4() {
        let mut rng = fastrand::Rng::with_seed(7);
        let a = event_id(&mut rng);
        let b = event_id(&mut rng);
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        }
        assert_ne!(
            WorkerEvent::capacity(true).id,
            WorkerEvent::capacity(true).id
        );
    }

    #[test]
    fn envelope_shape() {
        let event = WorkerEvent::with_id(
            "e-1".into(),
            WorkerEventType::CapacityUpdate,
            capacity_data(false),
        );
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"id":"e-1","event":"worker-capacity-update","data":{"is_busy":false}}"#
        );
    }
}
