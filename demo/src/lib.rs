//! Skiff's demo application: one small binary that plays every application of the
//! scenarios in `../shared/scenarios`, so that tests run real workloads from a local image.
//!
//! - k8s-combat: `GET /ping` and `GET /service` (port 8081);
//! - servera/serverb: `GET /serverapi` and `GET /clientapi` (port 9502);
//! - an echo answering with the pod name (`/`, `/echo`), `/healthz`, `/env` and `/sleep?ms=N`;
//! - `skiff-demo get URL`, a tiny client for tests and `kubectl exec`.
//!
//! One process serves every endpoint on every port; the scenarios differ only in paths.
//! TODO(grpc echo, for later): a gRPC `Echo` service over h2c answering with the pod name,
//! for the L7 gRPC balancing tests. The server already speaks h2c through hyper-util's auto
//! builder; what is missing is the protobuf framing (tonic, or hand-rolled for one method).

pub mod app;
pub mod client;
pub mod config;
pub mod routes;
pub mod server;
