//! The image store on disk: import, list, resolve and remove, around an index file.
//!
//! Decisions are made on plain values — [`ImageIndex`] finds, inserts and removes images
//! in memory, the archive planner decides what an archive holds — and this file's
//! [`ImageStore`] carries them out: blobs, unpacked root filesystems, the atomic index
//! write and garbage collection. Writers take an exclusive `flock` on `.lock`, so the
//! CLI can import while the agent runs; readers only read `index.json`, which is replaced
//! atomically.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use nix::fcntl::{Flock, FlockArg};

use super::archive::{plan_import, read_archive, PlannedImage};
use super::blobs::{scratch_path, write_atomically, BlobDir, HashingReader};
use super::format::{ImageConfig, Platform};
use super::index::{host_image_id, ImageIndex, INDEX_VERSION};
pub use super::index::{Image, ImageSummary, Removal, RootFilesystem};
use super::layer::LayerWriter;
use super::process::UserDatabase;
use super::reference::ImageReference;
use super::{io_error, ImageError};

const INDEX_FILE: &str = "index.json";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Report progress about every this many bytes.
const PROGRESS_STEP: u64 = 256 << 10;

/// Which part of an import is under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPhase {
    /// Reading the archive and storing its blobs; bytes of the archive file.
    Reading,
    /// Applying layers to root filesystems; bytes of the layer blobs.
    Unpacking,
}

/// A progress report: `done` of `total` bytes in `phase` (`total` unknown for a pipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Reading or unpacking.
    pub phase: ImportPhase,
    /// Bytes processed so far in this phase.
    pub done: u64,
    /// Bytes this phase will process, when known.
    pub total: Option<u64>,
}

/// The local image store rooted at one directory (the agent uses `<data-dir>/images`).
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    blobs: BlobDir,
}

impl ImageStore {
    /// Opens the store at `root`, creating its directories if needed.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        for dir in [
            root.to_path_buf(),
            root.join("blobs/sha256"),
            root.join("rootfs"),
            root.join("tmp"),
        ] {
            fs::create_dir_all(&dir).map_err(io_error(format!("create {}", dir.display())))?;
        }
        Ok(ImageStore {
            root: root.to_path_buf(),
            blobs: BlobDir::new(root.join("blobs/sha256"), root.join("tmp")),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every image, in import order.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        Ok(self.read_index()?.images)
    }

    /// The image a container's `image:` names, with Docker's normalisation; `None` when it
    /// is not here. Also accepts a full id (`sha256:<hex>` or 64 hex digits). Errors only
    /// for an unreadable index, a malformed reference or an ambiguous one.
    pub fn resolve(&self, reference: &str) -> Result<Option<Image>, ImageError> {
        let index = self.read_index()?;
        Ok(index
            .find(reference, false)?
            .map(|(i, _)| index.images[i].clone()))
    }

    /// Where an image's root filesystem is: `rootfs/<hex>`, or `/` for a host image
    /// (which the runtime must mount read-only).
    pub fn rootfs_path(&self, image: &Image) -> PathBuf {
        match image.rootfs {
            RootFilesystem::HostFilesystem => PathBuf::from("/"),
            RootFilesystem::Unpacked => self.root.join("rootfs").join(id_hex(&image.id)),
        }
    }

    /// The users and groups of an image's root filesystem, for [`super::process_for`].
    pub fn user_database(&self, image: &Image) -> Result<UserDatabase, ImageError> {
        UserDatabase::read_from(&self.rootfs_path(image))
    }

    /// Imports a `docker save` archive or OCI-layout tarball (optionally gzipped).
    /// `tag` adds a name (and is the only one when the archive carries none).
    pub fn import(
        &self,
        path: &Path,
        tag: Option<&str>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Vec<ImageSummary>, ImageError> {
        let file = File::open(path).map_err(io_error(format!("open {}", path.display())))?;
        let total = file.metadata().ok().map(|m| m.len());
        self.import_reader(file, total, tag, progress)
    }

    /// Imports from a stream (a file or a pipe), never holding it all in memory.
    pub fn import_reader(
        &self,
        reader: impl Read,
        total: Option<u64>,
        tag: Option<&str>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Vec<ImageSummary>, ImageError> {
        let tag = tag.map(ImageReference::parse).transpose()?;
        let _lock = self.lock()?;
        self.clear_scratch()?;
        let result = self.import_locked(reader, total, tag, progress);
        // Whatever happened, blobs that no image uses (a failed import's, an archive's
        // legacy files) and scratch files go.
        let cleanup = self
            .read_index()
            .and_then(|index| self.collect_garbage(&index));
        let _ = self.clear_scratch();
        let summaries = result?;
        cleanup?;
        Ok(summaries)
    }

    fn import_locked(
        &self,
        reader: impl Read,
        total: Option<u64>,
        tag: Option<ImageReference>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Vec<ImageSummary>, ImageError> {
        let mut reporter = Reporter::new(progress, ImportPhase::Reading, total);
        let mut input = BufReader::new(ProgressReader {
            inner: reader,
            reporter: &mut reporter,
        });
        let head = input.fill_buf().map_err(io_error("read the archive"))?;
        let contents = if head.starts_with(&GZIP_MAGIC) {
            read_archive(GzDecoder::new(input), &self.blobs)?
        } else {
            read_archive(input, &self.blobs)?
        };
        reporter.finish();
        let planned = plan_import(&contents, &Platform::host())?;
        if tag.is_some() && planned.len() > 1 {
            return Err(ImageError::Ambiguous(format!(
                "the archive holds {} images and a tag can name only one",
                planned.len()
            )));
        }

        let mut index = self.read_index()?;
        let to_unpack: Vec<&PlannedImage> = planned
            .iter()
            .filter(|p| !self.is_unpacked(&index, &p.config_digest))
            .collect();
        let unpack_total = to_unpack
            .iter()
            .flat_map(|p| &p.layers)
            .filter_map(|layer| self.blobs.path(&layer.blob))
            .filter_map(|path| fs::metadata(path).ok())
            .map(|m| m.len())
            .sum();
        let mut reporter = Reporter::new(
            reporter.callback,
            ImportPhase::Unpacking,
            Some(unpack_total),
        );
        let mut imported = Vec::new();
        for plan in &planned {
            let size = match index.images.iter().find(|i| i.id == plan.config_digest) {
                Some(existing) if self.is_unpacked(&index, &plan.config_digest) => existing.size,
                _ => self.unpack(plan, &mut reporter)?,
            };
            let mut repo_tags: Vec<String> =
                plan.names.iter().map(ImageReference::to_string).collect();
            if let Some(tag) = &tag {
                repo_tags.push(tag.to_string());
            }
            repo_tags.dedup();
            let image = index.insert(Image {
                id: plan.config_digest.clone(),
                repo_tags,
                digest: plan.manifest_digest.clone(),
                size,
                created: plan
                    .config
                    .created
                    .as_deref()
                    .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                    .map(|c| c.with_timezone(&Utc)),
                imported: Utc::now(),
                rootfs: RootFilesystem::Unpacked,
                architecture: plan.config.architecture.clone(),
                config: plan.config.config.clone().unwrap_or_default(),
                layers: plan.layers.iter().map(|l| l.blob.clone()).collect(),
            });
            imported.push(image.id.clone());
        }
        reporter.finish();
        self.write_index(&index)?;
        Ok(index
            .images
            .iter()
            .filter(|image| imported.contains(&image.id))
            .map(Image::summary)
            .collect())
    }

    /// True when the index has the image and its root filesystem is on disk.
    fn is_unpacked(&self, index: &ImageIndex, id: &str) -> bool {
        index.images.iter().any(|i| i.id == id)
            && self.root.join("rootfs").join(id_hex(id)).is_dir()
    }

    /// Applies the layers into a scratch directory, verifying each against its diff id,
    /// then moves the result into `rootfs/<hex>`. Returns the unpacked size.
    fn unpack(&self, plan: &PlannedImage, reporter: &mut Reporter<'_>) -> Result<u64, ImageError> {
        let staging = scratch_path(&self.root.join("tmp"), "rootfs");
        fs::create_dir(&staging).map_err(io_error(format!("create {}", staging.display())))?;
        let mut writer = LayerWriter::new(staging.clone());
        let mut unpacked = 0;
        for layer in &plan.layers {
            let path = self.blobs.path(&layer.blob).ok_or_else(|| {
                ImageError::CorruptArchive(format!("layer digest {:?}", layer.blob))
            })?;
            let file = File::open(&path).map_err(io_error(format!("open layer {}", layer.blob)))?;
            let mut input = BufReader::new(ProgressReader {
                inner: file,
                reporter: &mut *reporter,
            });
            let head = input
                .fill_buf()
                .map_err(io_error(format!("read layer {}", layer.blob)))?;
            let decompressed: Box<dyn Read + '_> = if head.starts_with(&GZIP_MAGIC) {
                Box::new(GzDecoder::new(input))
            } else if head.starts_with(&ZSTD_MAGIC) {
                return Err(ImageError::UnsupportedLayer(format!(
                    "layer {} is zstd-compressed; re-save it with gzip or no compression",
                    layer.blob
                )));
            } else {
                Box::new(input)
            };
            let mut hashing = HashingReader::new(decompressed);
            writer.apply_layer(&mut hashing)?;
            let uncompressed = hashing.drain_and_finish().map_err(|err| {
                ImageError::CorruptArchive(format!("layer {}: {err}", layer.blob))
            })?;
            if let Some(diff_id) = &layer.diff_id {
                if *diff_id != uncompressed.digest {
                    return Err(ImageError::DigestMismatch {
                        what: format!("layer {}", layer.blob),
                        expected: diff_id.clone(),
                        actual: uncompressed.digest,
                    });
                }
            }
            unpacked += uncompressed.size;
        }
        writer.finish()?;
        fs::set_permissions(
            &staging,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .map_err(io_error(format!("set the mode of {}", staging.display())))?;
        let target = self.root.join("rootfs").join(id_hex(&plan.config_digest));
        if target.exists() {
            // Left by a crash between unpacking and writing the index: not in use.
            fs::remove_dir_all(&target)
                .map_err(io_error(format!("remove {}", target.display())))?;
        }
        fs::rename(&staging, &target).map_err(io_error(format!(
            "move the root filesystem to {}",
            target.display()
        )))?;
        Ok(unpacked)
    }

    /// Declares an image whose root filesystem is the node's own `/` (for running host
    /// binaries, mounted read-only). Nothing is unpacked.
    pub fn import_host(&self, name: &str) -> Result<ImageSummary, ImageError> {
        let reference = ImageReference::parse(name)?;
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let image = index.insert(Image {
            id: host_image_id(),
            repo_tags: vec![reference.to_string()],
            digest: None,
            size: 0,
            created: None,
            imported: Utc::now(),
            rootfs: RootFilesystem::HostFilesystem,
            architecture: Some(Platform::host().architecture),
            config: ImageConfig::default(),
            layers: Vec::new(),
        });
        self.write_index(&index)?;
        Ok(image.summary())
    }

    /// Removes a tag, or an image by id or digest (see [`Removal`]). Deleting an image
    /// also deletes its root filesystem and the blobs no other image uses.
    pub fn remove(&self, reference: &str) -> Result<Removal, ImageError> {
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let (removal, deleted) = index.remove(reference)?;
        self.write_index(&index)?;
        if let Some(image) = deleted.filter(|image| image.rootfs == RootFilesystem::Unpacked) {
            let rootfs = self.rootfs_path(&image);
            // Rename first so a crash never leaves a half-deleted tree under rootfs/.
            let doomed = scratch_path(&self.root.join("tmp"), "removing");
            if fs::rename(&rootfs, &doomed).is_ok() {
                fs::remove_dir_all(&doomed)
                    .map_err(io_error(format!("remove {}", rootfs.display())))?;
            }
        }
        self.collect_garbage(&index)?;
        Ok(removal)
    }

    /// Deletes every blob no image in `index` refers to.
    fn collect_garbage(&self, index: &ImageIndex) -> Result<(), ImageError> {
        let keep = index.referenced_blobs();
        for digest in self.blobs.list()? {
            if !keep.contains(&digest) {
                self.blobs.remove(&digest)?;
            }
        }
        Ok(())
    }

    fn read_index(&self) -> Result<ImageIndex, ImageError> {
        let path = self.root.join(INDEX_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                ImageError::Json(format!("the image index {}", path.display()), err)
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(ImageIndex {
                version: INDEX_VERSION,
                images: Vec::new(),
            }),
            Err(err) => Err(ImageError::Io(format!("read {}", path.display()), err)),
        }
    }

    fn write_index(&self, index: &ImageIndex) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(index)
            .map_err(|err| ImageError::Json("the image index".into(), err))?;
        write_atomically(&self.root.join(INDEX_FILE), &bytes)
    }

    /// Takes the writers' lock; it is released when the returned guard drops.
    fn lock(&self) -> Result<Flock<File>, ImageError> {
        let path = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(format!("open {}", path.display())))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| ImageError::Io(format!("lock {}", path.display()), errno.into()))
    }

    /// Empties `tmp/`; only called with the lock held, so no writer is using it.
    fn clear_scratch(&self) -> Result<(), ImageError> {
        let tmp = self.root.join("tmp");
        let entries = fs::read_dir(&tmp).map_err(io_error(format!("list {}", tmp.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
        Ok(())
    }
}

/// `sha256:<hex>` → `<hex>`.
fn id_hex(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// Sends progress to the caller's callback, at most about every [`PROGRESS_STEP`] bytes.
struct Reporter<'a> {
    callback: &'a mut dyn FnMut(ImportProgress),
    phase: ImportPhase,
    total: Option<u64>,
    done: u64,
    reported: u64,
}

impl<'a> Reporter<'a> {
    fn new(
        callback: &'a mut dyn FnMut(ImportProgress),
        phase: ImportPhase,
        total: Option<u64>,
    ) -> Self {
        let mut reporter = Reporter {
            callback,
            phase,
            total,
            done: 0,
            reported: 0,
        };
        reporter.report();
        reporter
    }

    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.done - self.reported >= PROGRESS_STEP {
            self.report();
        }
    }

    fn finish(&mut self) {
        self.report();
    }

    fn report(&mut self) {
        self.reported = self.done;
        (self.callback)(ImportProgress {
            phase: self.phase,
            done: self.done,
            total: self.total,
        });
    }
}

/// Counts bytes read from the archive or a layer blob into a [`Reporter`].
struct ProgressReader<'r, 'a, R> {
    inner: R,
    reporter: &'r mut Reporter<'a>,
}

impl<R: Read> Read for ProgressReader<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::test_archives::*;
    use std::os::unix::fs::MetadataExt;

    fn store() -> (tempfile::TempDir, ImageStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&dir.path().join("images")).unwrap();
        (dir, store)
    }

    fn import_bytes(
        store: &ImageStore,
        archive: &[u8],
        tag: Option<&str>,
    ) -> Result<Vec<ImageSummary>, ImageError> {
        store.import_reader(archive, Some(archive.len() as u64), tag, &mut |_| {})
    }

    fn blob_count(store: &ImageStore) -> usize {
        store.blobs.list().unwrap().len()
    }

    /// The root filesystem the two test layers must produce.
    fn assert_layers_applied(rootfs: &Path) {
        assert_eq!(
            fs::read_to_string(rootfs.join("etc/motd")).unwrap(),
            "layer two\n"
        );
        assert!(
            !rootfs.join("etc/remove-me").exists(),
            "whiteout must remove etc/remove-me"
        );
        assert!(
            !rootfs.join("var/cache/old").exists(),
            "opaque dir must hide var/cache/old"
        );
        assert!(rootfs.join("var/cache/new").exists());
        let lib = fs::symlink_metadata(rootfs.join("lib")).unwrap();
        assert!(lib.file_type().is_symlink());
        assert_eq!(
            fs::read_link(rootfs.join("lib")).unwrap(),
            Path::new("/usr/lib")
        );
        // Written through the absolute symlink, inside the root.
        assert!(rootfs.join("usr/lib/added.so").is_file());
        let app = fs::metadata(rootfs.join("bin/app")).unwrap();
        let link = fs::metadata(rootfs.join("bin/app-link")).unwrap();
        assert_eq!(app.ino(), link.ino(), "hard link shares the inode");
        assert_eq!(app.mode() & 0o7777, 0o755);
        assert_eq!(
            fs::metadata(rootfs.join("etc/passwd")).unwrap().mode() & 0o7777,
            0o644
        );
        assert_eq!(
            fs::metadata(rootfs.join("secret")).unwrap().mode() & 0o7777,
            0o700
        );
    }

    #[test]
    fn should_import_a_docker_save_archive_and_apply_layers_in_order() {
        let (_dir, store) = store();
        let archive = docker_save_archive(&["nginx:1", "localhost:5000/web"], false);
        let imported = import_bytes(&store, &archive.bytes, None).unwrap();
        assert_eq!(imported.len(), 1);
        assert_eq!(imported[0].id, archive.config_digest);
        assert_eq!(
            imported[0].repo_tags,
            ["nginx:1", "localhost:5000/web:latest"]
        );
        let image = store.resolve("nginx:1").unwrap().unwrap();
        assert_eq!(
            image.repo_tags,
            ["docker.io/library/nginx:1", "localhost:5000/web:latest"]
        );
        assert_eq!(
            image.config.entrypoint.as_deref(),
            Some(&["/bin/app".to_string()][..])
        );
        assert!(image.size > 0);
        assert!(image.created.is_some());
        assert_layers_applied(&store.rootfs_path(&image));
        // Config and both layers are kept; the archive's other files are not.
        assert_eq!(blob_count(&store), 3);
    }

    #[test]
    fn should_import_an_oci_layout_with_a_nested_index_and_a_gzip_layer() {
        let (_dir, store) = store();
        let archive =
            oci_layout_archive(Some("example.com/team/app:2.0"), &Platform::host(), false);
        let imported = import_bytes(&store, &archive.bytes, None).unwrap();
        assert_eq!(imported.len(), 1);
        assert_eq!(imported[0].repo_tags, ["example.com/team/app:2.0"]);
        let image = store.resolve("example.com/team/app:2.0").unwrap().unwrap();
        assert_eq!(image.id, archive.config_digest);
        assert_eq!(
            image.digest.as_deref(),
            Some(archive.manifest_digest.as_str())
        );
        assert_layers_applied(&store.rootfs_path(&image));
        let by_digest = format!("example.com/team/app@{}", archive.manifest_digest);
        assert_eq!(store.resolve(&by_digest).unwrap().unwrap().id, image.id);
    }

    #[test]
    fn should_read_a_gzipped_archive_and_report_progress() {
        let (_dir, store) = store();
        let archive = gzip(&docker_save_archive(&["app:1"], false).bytes);
        let mut reports = Vec::new();
        store
            .import_reader(&archive[..], Some(archive.len() as u64), None, &mut |p| {
                reports.push(p)
            })
            .unwrap();
        let last_read = reports
            .iter()
            .rfind(|p| p.phase == ImportPhase::Reading)
            .unwrap();
        assert_eq!(Some(last_read.done), last_read.total);
        let last = reports.last().unwrap();
        assert_eq!(last.phase, ImportPhase::Unpacking);
        assert_eq!(Some(last.done), last.total);
    }

    #[test]
    fn should_name_an_untagged_archive_with_the_tag_given() {
        let (_dir, store) = store();
        let archive = oci_layout_archive(None, &Platform::host(), false);
        let imported = import_bytes(&store, &archive.bytes, Some("demo")).unwrap();
        assert_eq!(imported[0].repo_tags, ["demo:latest"]);
        assert!(store
            .resolve("docker.io/library/demo:latest")
            .unwrap()
            .is_some());
    }

    #[test]
    fn should_resolve_references_with_docker_normalisation() {
        let (_dir, store) = store();
        let archive = docker_save_archive(&["nginx", "foo/bar:1", "localhost:5000/x"], false);
        import_bytes(&store, &archive.bytes, None).unwrap();
        for reference in [
            "nginx",
            "nginx:latest",
            "docker.io/library/nginx",
            "foo/bar:1",
            "docker.io/foo/bar:1",
            "localhost:5000/x",
            archive.config_digest.as_str(),
            &archive.config_digest["sha256:".len()..],
        ] {
            assert!(
                store.resolve(reference).unwrap().is_some(),
                "{reference} should resolve"
            );
        }
        for reference in [
            "nginx:2",
            "bar:1",
            "localhost:5001/x",
            &archive.config_digest[..15],
        ] {
            assert!(
                store.resolve(reference).unwrap().is_none(),
                "{reference} should not resolve"
            );
        }
        assert!(store.resolve("Not A Name").is_err());
    }

    #[test]
    fn should_untag_then_delete_rootfs_and_unreferenced_blobs_on_remove() {
        let (_dir, store) = store();
        let archive = docker_save_archive(&["nginx:1", "nginx:stable"], false);
        import_bytes(&store, &archive.bytes, None).unwrap();
        let image = store.resolve("nginx:1").unwrap().unwrap();
        let rootfs = store.rootfs_path(&image);

        let err = store.remove(&archive.config_digest[..12]).unwrap_err();
        assert!(matches!(err, ImageError::Ambiguous(_)), "{err}");
        assert!(err.to_string().contains("nginx:1, nginx:stable"), "{err}");

        let first = store.remove("nginx:1").unwrap();
        assert_eq!(
            first,
            Removal {
                untagged: vec!["nginx:1".into()],
                deleted: None
            }
        );
        assert!(rootfs.is_dir());

        let last = store.remove("nginx:stable").unwrap();
        assert_eq!(
            last.deleted.as_deref(),
            Some(archive.config_digest.as_str())
        );
        assert!(!rootfs.exists());
        assert_eq!(blob_count(&store), 0);
        assert!(store.list().unwrap().is_empty());
        assert!(matches!(
            store.remove("nginx:1"),
            Err(ImageError::NotFound(_))
        ));
    }

    #[test]
    fn should_refuse_a_blob_whose_digest_does_not_match_and_keep_nothing() {
        let (_dir, store) = store();
        let archive = oci_layout_archive(Some("app:1"), &Platform::host(), true);
        let err = import_bytes(&store, &archive.bytes, None).unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        assert!(store.list().unwrap().is_empty());
        assert_eq!(blob_count(&store), 0);
    }

    #[test]
    fn should_refuse_a_layer_that_does_not_match_its_diff_id() {
        let (_dir, store) = store();
        let archive = docker_save_archive(&["app:1"], true);
        let err = import_bytes(&store, &archive.bytes, None).unwrap_err();
        assert!(
            matches!(err, ImageError::DigestMismatch { ref what, .. } if what.starts_with("layer")),
            "{err}"
        );
        assert_eq!(
            fs::read_dir(store.root().join("rootfs")).unwrap().count(),
            0
        );
    }

    #[test]
    fn should_refuse_a_layer_entry_that_escapes_the_root() {
        let (dir, store) = store();
        let layer = layer_tar(&[TestEntry::RawFile(b"../../escaped", b"gotcha")]);
        let archive = docker_save_with_layers(&[layer], &["evil:1"]);
        let err = import_bytes(&store, &archive.bytes, None).unwrap_err();
        assert!(matches!(err, ImageError::PathEscapesRoot(_)), "{err}");
        assert!(!dir.path().join("escaped").exists());
        assert!(!store.root().join("escaped").exists());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn should_not_panic_on_garbage_or_truncated_archives() {
        let (_dir, store) = store();
        let archive = docker_save_archive(&["app:1"], false).bytes;
        for bytes in [
            &b"not a tar at all"[..],
            &archive[..archive.len() / 2],
            &[0x1f, 0x8b, 0, 1, 2][..],
            &[][..],
        ] {
            assert!(import_bytes(&store, bytes, None).is_err());
        }
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn should_refuse_an_index_without_this_platform() {
        let (_dir, store) = store();
        let other = Platform {
            architecture: "s390x-not-this".into(),
            os: "linux".into(),
            variant: None,
        };
        let archive = oci_layout_archive(Some("app:1"), &other, false);
        let err = import_bytes(&store, &archive.bytes, None).unwrap_err();
        assert!(matches!(err, ImageError::NoMatchingPlatform(_)), "{err}");
    }

    #[test]
    fn should_move_a_tag_to_the_newly_imported_image() {
        let (_dir, store) = store();
        import_bytes(&store, &docker_save_archive(&["app:1"], false).bytes, None).unwrap();
        let second = oci_layout_archive(Some("app:1"), &Platform::host(), false);
        import_bytes(&store, &second.bytes, None).unwrap();
        assert_eq!(
            store.resolve("app:1").unwrap().unwrap().id,
            second.config_digest
        );
        assert_eq!(
            store.list().unwrap().len(),
            2,
            "the old image stays, untagged"
        );
    }

    #[test]
    fn should_record_a_host_image_without_unpacking_it() {
        let (_dir, store) = store();
        let summary = store.import_host("skiff/host").unwrap();
        assert!(summary.host_filesystem);
        assert_eq!(summary.repo_tags, ["skiff/host:latest"]);
        let image = store.resolve("skiff/host").unwrap().unwrap();
        assert_eq!(image.rootfs, RootFilesystem::HostFilesystem);
        assert_eq!(store.rootfs_path(&image), Path::new("/"));
        assert_eq!(
            fs::read_dir(store.root().join("rootfs")).unwrap().count(),
            0
        );
        let index = fs::read_to_string(store.root().join("index.json")).unwrap();
        assert!(index.contains("\"HostFilesystem\""), "{index}");
        store.remove("skiff/host").unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn should_read_the_image_users_for_the_process() {
        let (_dir, store) = store();
        let archive = docker_save_archive(&["app:1"], false);
        import_bytes(&store, &archive.bytes, None).unwrap();
        let image = store.resolve("app:1").unwrap().unwrap();
        let accounts = store.user_database(&image).unwrap();
        let config = ImageConfig {
            user: Some("app".into()),
            ..image.config.clone()
        };
        let container = k8s_openapi::api::core::v1::Container::default();
        let process =
            crate::image::process_for(&container, None, &config, vec![], &accounts).unwrap();
        assert_eq!((process.uid, process.gid), (1000, 1000));
    }
}
