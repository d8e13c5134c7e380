//! The node's local image store: images imported from files, unpacked once, run many times.
//!
//! Nothing here talks to a registry. Images arrive as `docker save` archives or OCI
//! image-layout tarballs (`skiff image import FILE`), or are declared to be the node's
//! own filesystem (`import_host`). Pulling comes later; until then a missing image
//! gives the container a Kubernetes waiting reason that says how to import it.
//!
//! # What the runtime uses
//!
//! ```ignore
//! let store = ImageStore::open(&data_dir.join("images"))?;
//! let Some(image) = store.resolve(container.image.as_deref().unwrap_or_default())? else {
//!     // Leave the container Waiting with this reason and message.
//!     let waiting = missing_image(&container, &node_name, backing_off);
//!     ...
//! };
//! let rootfs = store.rootfs_path(&image);            // "/" for a host image: mount it read-only
//! let accounts = store.user_database(&image)?;        // /etc/passwd and /etc/group of that rootfs
//! let process = process_for(&container, pod.spec.security_context.as_ref(),
//!                           &image.config, resolved_env, &accounts)?;
//! // process.args, process.env, process.cwd, process.uid, process.gid, process.supplementary_gids
//! ```
//!
//! [`process_for`] is the Kubernetes merge of image config and container spec
//! (`command` replaces Entrypoint and drops Cmd, `args` replaces Cmd, env by name, working
//! directory, user and `runAsNonRoot`). Its errors carry the reason Kubernetes shows:
//! [`ImageError::container_reason`].
//!
//! # On disk (`<data-dir>/images`)
//!
//! ```text
//! index.json            every image: id, tags, digest, size, created, parsed config (atomic replace)
//! .lock                 writers (import, remove) hold an exclusive flock; readers need none
//! blobs/sha256/<hex>    content-addressed blobs as shipped: configs, manifests, layers
//! rootfs/<hex>/         one unpacked root filesystem per image id (layers applied in order)
//! tmp/                  work in progress; whatever a crash leaves is cleared by the next writer
//! ```

mod archive;
mod blobs;
mod cli;
mod format;
mod index;
mod layer;
mod missing;
mod process;
mod reference;
mod store;
#[cfg(test)]
mod test_archives;

pub use cli::{import_with_progress, render_image_table};
pub use format::ImageConfig;
pub use missing::{missing_image, MissingImage};
pub use process::{process_for, ProcessSpec, UserDatabase};
pub use reference::ImageReference;
pub use store::{
    Image, ImageStore, ImageSummary, ImportPhase, ImportProgress, Removal, RootFilesystem,
};

/// Everything that can go wrong in the image store, its archives and the process merge.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file or directory operation failed; the string says which.
    #[error("failed to {0}: {1}")]
    Io(String, #[source] std::io::Error),

    /// The archive is not a `docker save` or OCI layout tarball, or is damaged.
    #[error("failed to read image archive: {0}")]
    CorruptArchive(String),

    /// A JSON document (archive metadata, image config, the index) did not parse.
    #[error("failed to parse {0}: {1}")]
    Json(String, #[source] serde_json::Error),

    /// Content did not hash to the digest it was named or described by.
    #[error("failed to verify {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Which content (a blob path, a layer).
        what: String,
        /// The digest the archive promised.
        expected: String,
        /// The digest the bytes have.
        actual: String,
    },

    /// A layer entry would land outside the root filesystem (`..`, or a hard link out).
    #[error("failed to unpack layer: entry {0:?} escapes the root filesystem")]
    PathEscapesRoot(String),

    /// A layer uses something this store cannot apply (zstd, a foreign layer, ...).
    #[error("failed to unpack layer: {0}")]
    UnsupportedLayer(String),

    /// The archive holds no manifest for this node's platform.
    #[error("failed to choose a manifest: {0}")]
    NoMatchingPlatform(String),

    /// An image reference does not follow Docker's grammar.
    #[error("failed to parse image reference {0:?}: {1}")]
    InvalidReference(String, String),

    /// No image in the store matches the reference.
    #[error("failed to find image: {0:?} is not present")]
    NotFound(String),

    /// The reference matches several images, or names an image through several tags.
    #[error("failed to pick one image: {0}")]
    Ambiguous(String),

    /// Neither the container nor the image gives a command to run.
    #[error("failed to build the process: no command specified")]
    NoCommand,

    /// The image's `User` names a user or group that its `/etc/passwd` or `/etc/group` lacks.
    #[error("failed to resolve user: {0}")]
    UnknownUser(String),

    /// `runAsNonRoot` is set but the process would run as root (or cannot be proven not to).
    #[error("failed to verify non-root user: {0}")]
    RunAsNonRoot(String),
}

impl ImageError {
    /// The `waiting.reason` Kubernetes shows for a container that failed this way.
    ///
    /// The kubelet reports security-context problems as `CreateContainerConfigError`
    /// (pkg/kubelet/kuberuntime/kuberuntime_container.go) and anything the runtime
    /// refuses as `CreateContainerError`.
    pub fn container_reason(&self) -> &'static str {
        match self {
            ImageError::RunAsNonRoot(_) | ImageError::UnknownUser(_) => {
                "CreateContainerConfigError"
            }
            _ => "CreateContainerError",
        }
    }
}

/// Shorthand for an I/O error with what we were doing.
fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let what = what.into();
    move |err| ImageError::Io(what, err)
}
