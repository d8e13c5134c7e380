//! Content-addressed blob files (`blobs/sha256/<hex>`), written through a temporary
//! file and renamed into place so a blob is either whole or absent.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::reference::{is_lower_hex, is_valid_digest};
use super::{io_error, ImageError};

/// A blob as stored: its digest and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobRef {
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// Length in bytes.
    pub size: u64,
}

/// The blob directory of one store, with the store's scratch directory for partial writes.
#[derive(Debug, Clone)]
pub(crate) struct BlobDir {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobDir {
    pub fn new(dir: PathBuf, tmp: PathBuf) -> Self {
        BlobDir { dir, tmp }
    }

    /// Where the blob with `digest` lives; `None` for anything but `sha256:<64 hex>`, so a
    /// digest read from an archive can never name a path outside the blob directory.
    pub fn path(&self, digest: &str) -> Option<PathBuf> {
        is_valid_digest(digest).then(|| self.dir.join(&digest["sha256:".len()..]))
    }

    /// Streams `reader` into a new blob and returns its digest and size.
    pub fn put(&self, reader: &mut dyn Read) -> Result<BlobRef, ImageError> {
        let tmp_path = scratch_path(&self.tmp, "blob");
        let mut file =
            File::create(&tmp_path).map_err(io_error(format!("create {}", tmp_path.display())))?;
        let mut hashing = HashingReader::new(reader);
        let copied = io::copy(&mut hashing, &mut file)
            .and_then(|_| file.sync_all())
            .map_err(io_error("copy a blob out of the archive"));
        if let Err(err) = copied {
            let _ = fs::remove_file(&tmp_path);
            return Err(err);
        }
        let blob = hashing.finish();
        self.commit(&tmp_path, &blob)?;
        Ok(blob)
    }

    /// Stores `bytes` as a blob.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<BlobRef, ImageError> {
        self.put(&mut &bytes[..])
    }

    /// Moves a finished temporary file to its content address. If the blob is already
    /// there the copy is dropped: same digest, same bytes.
    fn commit(&self, tmp_path: &Path, blob: &BlobRef) -> Result<(), ImageError> {
        let target = self.path(&blob.digest).expect("computed digests are valid");
        if target.exists() {
            let _ = fs::remove_file(tmp_path);
            return Ok(());
        }
        fs::rename(tmp_path, &target).map_err(io_error(format!("store blob {}", blob.digest)))
    }

    /// Every stored blob's digest.
    pub fn list(&self) -> Result<Vec<String>, ImageError> {
        let entries =
            fs::read_dir(&self.dir).map_err(io_error(format!("list {}", self.dir.display())))?;
        let mut digests = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(format!("list {}", self.dir.display())))?;
            if let Some(name) = entry.file_name().to_str() {
                if name.len() == 64 && is_lower_hex(name) {
                    digests.push(format!("sha256:{name}"));
                }
            }
        }
        Ok(digests)
    }

    /// Deletes a blob; one already gone is fine.
    pub fn remove(&self, digest: &str) -> Result<(), ImageError> {
        let Some(path) = self.path(digest) else {
            return Ok(());
        };
        match fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                Err(ImageError::Io(format!("remove blob {digest}"), err))
            }
            _ => Ok(()),
        }
    }
}

/// A unique path in `dir` for work in progress (`<prefix>-<pid>-<n>`).
pub(crate) fn scratch_path(dir: &Path, prefix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{prefix}-{}-{n}", std::process::id()))
}

/// Passes bytes through while hashing and counting them.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Reads whatever is left (a tar stream may end before its padding) and returns the
    /// digest and length of everything that passed through.
    pub fn drain_and_finish(mut self) -> io::Result<BlobRef> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.finish())
    }

    pub fn finish(self) -> BlobRef {
        BlobRef {
            digest: format!("sha256:{}", hex::encode(self.hasher.finalize())),
            size: self.size,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// The sha256 digest of `bytes`, as `sha256:<hex>`.
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the
/// directory. A reader sees the old file or the new one, never half of either.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let what = || format!("write {}", path.display());
    let mut file = File::create(&tmp).map_err(io_error(what()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(io_error(what()))?;
    fs::rename(&tmp, path).map_err(io_error(what()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(what()))
}
