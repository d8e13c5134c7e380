//! Skiff's knowledge of the Kubernetes API, as pure functions over JSON objects.
//!
//! Nothing here does I/O: the API server and the controllers call these functions
//! to decide what an object should look like, and do the effects themselves.

pub mod convert;
pub mod defaults;
pub mod field;
pub mod object;
pub mod protobuf;
pub mod quantity;
pub mod registry;
pub mod selector;
pub mod strategic_merge;
pub mod strict;
pub mod table;
pub mod validation;
