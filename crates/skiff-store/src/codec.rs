//! Byte layouts of the values in the embedded store's tables.
//!
//! The records are small and fixed, so they are hand-rolled little-endian rather than
//! pulled through a serialization framework. Decoding checks every length, so a
//! corrupted record becomes a [`StoreError::Backend`], never a panic.
//!
//! - `kv` value: `create_revision: i64 | mod_revision: i64 | value...`
//!   (the key is the table key).
//! - `log` value (the table key is the event's revision):
//!   `kind: u8 | key_len: u32 | key | prev | new`, where `prev` is `0u8`, or `1u8` followed by
//!   `create_revision: i64 | mod_revision: i64 | value_len: u32 | value`, and `new`, present for
//!   puts only, is `create_revision: i64 | value...`. A put's mod revision is the event's
//!   revision, and a delete's kv is its prev with the event's revision, so neither is stored.

use bytes::Bytes;

use crate::{EventKind, KeyValue, Result, Revision, StoreError, WatchEvent};

const PUT: u8 = 0;
const DELETE: u8 = 1;

/// Encodes a `kv` table value.
pub(crate) fn encode_kv(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + kv.value.len());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&kv.value);
    out
}

/// Decodes a `kv` table value stored under `key`.
pub(crate) fn decode_kv(key: &str, bytes: &[u8]) -> Result<KeyValue> {
    let mut r = Reader(bytes);
    let decoded = (|| {
        let create_revision = r.i64()?;
        let mod_revision = r.i64()?;
        Ok(KeyValue {
            key: key.to_string(),
            value: Bytes::copy_from_slice(r.rest()),
            create_revision,
            mod_revision,
        })
    })();
    decoded.map_err(|what| corrupted(&format!("value of key {key}"), what))
}

/// Encodes a `log` table value.
pub(crate) fn encode_event(event: &WatchEvent) -> Vec<u8> {
    let key = event.kv.key.as_bytes();
    let prev_len = event.prev.as_ref().map_or(0, |p| 20 + p.value.len());
    let mut out = Vec::with_capacity(14 + key.len() + prev_len + event.kv.value.len());
    out.push(match event.kind {
        EventKind::Put => PUT,
        EventKind::Delete => DELETE,
    });
    put_len(&mut out, key);
    match &event.prev {
        None => out.push(0),
        Some(prev) => {
            out.push(1);
            out.extend_from_slice(&prev.create_revision.to_le_bytes());
            out.extend_from_slice(&prev.mod_revision.to_le_bytes());
            put_len(&mut out, &prev.value);
        }
    }
    if event.kind == EventKind::Put {
        out.extend_from_slice(&event.kv.create_revision.to_le_bytes());
        out.extend_from_slice(&event.kv.value);
    }
    out
}

/// Decodes the `log` table value of `revision`, or returns `None` without decoding the
/// values when its key does not start with `prefix` (replays skip most records).
pub(crate) fn decode_event(
    revision: Revision,
    bytes: &[u8],
    prefix: &str,
) -> Result<Option<WatchEvent>> {
    let mut r = Reader(bytes);
    let decoded = (|| {
        let kind = match r.u8()? {
            PUT => EventKind::Put,
            DELETE => EventKind::Delete,
            _ => return Err("unknown event kind"),
        };
        let key = std::str::from_utf8(r.sized()?).map_err(|_| "key is not UTF-8")?;
        if !key.starts_with(prefix) {
            return Ok(None);
        }
        let prev = match r.u8()? {
            0 => None,
            1 => Some(KeyValue {
                key: key.to_string(),
                create_revision: r.i64()?,
                mod_revision: r.i64()?,
                value: Bytes::copy_from_slice(r.sized()?),
            }),
            _ => return Err("bad prev flag"),
        };
        let kv = match kind {
            EventKind::Put => KeyValue {
                key: key.to_string(),
                create_revision: r.i64()?,
                mod_revision: revision,
                value: Bytes::copy_from_slice(r.rest()),
            },
            EventKind::Delete => KeyValue {
                mod_revision: revision,
                ..prev.clone().ok_or("delete without a previous value")?
            },
        };
        Ok(Some(WatchEvent {
            kind,
            revision,
            kv,
            prev,
        }))
    })();
    decoded.map_err(|what| corrupted(&format!("log entry {revision}"), what))
}

fn corrupted(record: &str, what: &str) -> StoreError {
    StoreError::Backend(format!("failed to decode the {record}: {what}"))
}

/// Appends `bytes` with a u32 length in front.
fn put_len(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB (the API server caps objects at a few MiB).
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over a record that fails, instead of panicking, when the record is short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let (head, tail) = self.0.split_at_checked(n).ok_or("record is truncated")?;
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        self.take(N)?.try_into().map_err(|_| "record is truncated")
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.array::<1>()?[0])
    }

    fn i64(&mut self) -> Result<i64, &'static str> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Bytes with a u32 length in front.
    fn sized(&mut self) -> Result<&'a [u8], &'static str> {
        let len = u32::from_le_bytes(self.array()?);
        self.take(len as usize)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, create: Revision, modified: Revision) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Bytes::from(value.to_string()),
            create_revision: create,
            mod_revision: modified,
        }
    }

    #[test]
    fn should_round_trip_a_kv() {
        let value = kv("/a", "hello", 2, 5);
        assert_eq!(decode_kv("/a", &encode_kv(&value)).unwrap(), value);
    }

    #[test]
    fn should_round_trip_puts_and_deletes() {
        let put = WatchEvent {
            kind: EventKind::Put,
            revision: 7,
            kv: kv("/a", "new", 3, 7),
            prev: Some(kv("/a", "old", 3, 4)),
        };
        let created = WatchEvent {
            kind: EventKind::Put,
            revision: 8,
            kv: kv("/b", "", 8, 8),
            prev: None,
        };
        let deleted = WatchEvent {
            kind: EventKind::Delete,
            revision: 9,
            kv: kv("/a", "new", 3, 9),
            prev: Some(kv("/a", "new", 3, 7)),
        };
        for event in [put, created, deleted] {
            let decoded = decode_event(event.revision, &encode_event(&event), "/").unwrap();
            assert_eq!(decoded, Some(event));
        }
    }

    #[test]
    fn should_skip_an_event_outside_the_prefix() {
        let event = WatchEvent {
            kind: EventKind::Put,
            revision: 2,
            kv: kv("/b/x", "v", 2, 2),
            prev: None,
        };
        assert_eq!(decode_event(2, &encode_event(&event), "/a/").unwrap(), None);
    }

    #[test]
    fn should_reject_a_corrupted_record() {
        assert!(matches!(
            decode_kv("/a", &[1, 2, 3]),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            decode_event(2, &[0, 255, 255, 255, 255], ""),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            decode_event(2, &[9], ""),
            Err(StoreError::Backend(_))
        ));
    }
}
