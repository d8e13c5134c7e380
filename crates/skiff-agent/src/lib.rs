//! The node agent. It makes a bound Pod real on its node: a sandbox with its own
//! network (namespace, veth into the node bridge, an IP from the node's range),
//! containers run from the local image store through an OCI runtime, probes,
//! logs, and honest status reported back through the API.

pub mod agent;
pub mod image;
pub mod network;
pub mod runtime;
