//! The JSON documents of image archives: `docker save`'s manifest.json, OCI indexes,
//! manifests and descriptors, and the image config (Entrypoint, Cmd, Env, …).
//!
//! Field names follow the OCI image spec (image-spec `config.md`, `manifest.md`,
//! `image-index.md`) and Docker's `image/spec/v1.2.md`. Every field that real archives
//! may leave out or set to `null` is optional, so odd but valid archives still parse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The runtime part of an image config: what to run, as whom, where, with which env.
///
/// Stored in the index as the image's parsed config, with the OCI field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    /// `user`, `uid`, `user:group` or `uid:gid`; empty means root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `NAME=value` pairs, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// The executable and its leading arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments, appended to Entrypoint unless the container overrides them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The working directory; empty means `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Ports the image documents, e.g. `8080/tcp` (informational, as in Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Paths the image marks as volumes (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// Image labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal that stops the process, e.g. `SIGQUIT` (SIGTERM when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// An image config file (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ImageConfigFile {
    /// RFC 3339; kept as text because some builders write odd values.
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub config: Option<ImageConfig>,
    #[serde(default)]
    pub rootfs: Option<RootFsSection>,
}

/// The config's `rootfs`: digests of the *uncompressed* layers, in order.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RootFsSection {
    #[serde(default)]
    pub diff_ids: Option<Vec<String>>,
}

/// One entry of `docker save`'s manifest.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerManifestEntry {
    /// Archive path of the config, `<hex>.json` or `blobs/sha256/<hex>`.
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Archive paths of the layer tars, base first.
    pub layers: Vec<String>,
}

/// An OCI content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// The platform an index entry is for.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An OCI image index (also index.json at the root of a layout) or a Docker manifest list.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OciIndex {
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An OCI image manifest or a Docker v2 schema 2 manifest.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OciManifest {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// Media types of nested indexes (OCI and Docker manifest lists).
pub(crate) const INDEX_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The annotation containerd and Docker put the full image name in.
pub(crate) const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI annotation for a reference name (a full name, or only a tag).
pub(crate) const OCI_REF_NAME: &str = "org.opencontainers.image.ref.name";
