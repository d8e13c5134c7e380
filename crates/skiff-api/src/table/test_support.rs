//! What the table tests share.

use chrono::{DateTime, Utc};

/// The fixed clock the tests print ages against: 2025-01-01T12:00:00Z.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}
