//! Reading an image archive: one streaming pass stores every file as a blob, then a pure
//! planner decides, from the archive's JSON documents alone, which images it holds.
//!
//! Two formats are detected by their files: `docker save` (manifest.json, `<id>.json`
//! configs, layer tars; Docker's image/spec/v1.2.md) and the OCI image layout (oci-layout,
//! index.json, `blobs/sha256/…`; image-spec `image-layout.md`). Docker 25+ writes both at
//! once; manifest.json then wins, as `docker load` does.

use std::collections::BTreeMap;
use std::io::Read;

use super::blobs::{BlobDir, BlobRef};
use super::format::{
    Descriptor, DockerManifestEntry, ImageConfigFile, OciIndex, OciManifest, Platform,
    CONTAINERD_IMAGE_NAME, INDEX_MEDIA_TYPES, OCI_REF_NAME,
};
use super::reference::{is_lower_hex, ImageReference};
use super::{io_error, ImageError};

/// Files up to this size that look like JSON are also kept in memory for the planner.
/// Configs and manifests are a few KiB; layers are never JSON.
const DOCUMENT_MAX_BYTES: u64 = 4 << 20;
/// How many archive symlinks to follow before calling it a loop.
const MAX_LINK_HOPS: usize = 16;

/// What one pass over an archive found.
#[derive(Debug, Default)]
pub(crate) struct ArchiveContents {
    /// Every regular file, by normalised archive path, as a stored blob.
    pub files: BTreeMap<String, BlobRef>,
    /// Small JSON-looking files (and `oci-layout`), by archive path.
    pub documents: BTreeMap<String, Vec<u8>>,
    /// Symlinks and hard links inside the archive (legacy `docker save` links repeated
    /// layers), by path, to the normalised target path.
    pub links: BTreeMap<String, String>,
}

/// One image the archive holds, ready to be unpacked.
#[derive(Debug, Clone)]
pub(crate) struct PlannedImage {
    /// The config blob's digest: the image id.
    pub config_digest: String,
    pub config: ImageConfigFile,
    /// The manifest's digest, when the archive has a real manifest blob (OCI).
    pub manifest_digest: Option<String>,
    pub layers: Vec<PlannedLayer>,
    /// Names from the archive, already normalised.
    pub names: Vec<ImageReference>,
}

/// One layer: the blob as shipped and the digest its uncompressed tar must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedLayer {
    pub blob: String,
    pub diff_id: Option<String>,
}

/// Reads a (plain) tar stream once, storing each regular file as a blob.
pub(crate) fn read_archive(
    reader: impl Read,
    blobs: &BlobDir,
) -> Result<ArchiveContents, ImageError> {
    let corrupt = |err: std::io::Error| ImageError::CorruptArchive(err.to_string());
    let mut contents = ArchiveContents::default();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalise_archive_path("", &raw_path).ok_or_else(|| {
            ImageError::CorruptArchive(format!("entry {raw_path:?} leaves the archive"))
        })?;
        let kind = entry.header().entry_type();
        if kind.is_file() {
            let size = entry.header().size().map_err(corrupt)?;
            if size <= DOCUMENT_MAX_BYTES {
                let mut bytes = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut bytes)
                    .map_err(io_error(format!("read {path} from the archive")))?;
                let blob = blobs.put_bytes(&bytes)?;
                if looks_like_document(&path, &bytes) {
                    contents.documents.insert(path.clone(), bytes);
                }
                contents.files.insert(path, blob);
            } else {
                let blob = blobs.put(&mut entry)?;
                contents.files.insert(path, blob);
            }
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            // A symlink's target is relative to its directory, a hard link's to the root.
            let base = if kind.is_symlink() {
                path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
            } else {
                ""
            };
            let target = normalise_archive_path(base, &target).ok_or_else(|| {
                ImageError::CorruptArchive(format!("link {path} points outside the archive"))
            })?;
            contents.links.insert(path, target);
        }
        // Directories and anything else carry no content we need.
    }
    Ok(contents)
}

/// JSON objects and arrays (docker's manifest.json is an array), and `oci-layout`.
fn looks_like_document(path: &str, bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    path == "oci-layout" || matches!(first, Some(b'{') | Some(b'['))
}

/// Lexically joins `path` onto `base` inside the archive: no leading `/`, no `.`, `..`
/// resolved; `None` if it climbs above the archive root.
fn normalise_archive_path(base: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

impl ArchiveContents {
    /// Follows archive links from `path` to the path that holds the content.
    fn real_path(&self, path: &str) -> Result<String, ImageError> {
        let mut current = normalise_archive_path("", path).ok_or_else(|| {
            ImageError::CorruptArchive(format!("path {path:?} leaves the archive"))
        })?;
        for _ in 0..MAX_LINK_HOPS {
            match self.links.get(&current) {
                Some(target) => current = target.clone(),
                None => return Ok(current),
            }
        }
        Err(ImageError::CorruptArchive(format!(
            "too many links from {path}"
        )))
    }

    fn file(&self, path: &str, what: &str) -> Result<&BlobRef, ImageError> {
        let real = self.real_path(path)?;
        self.files
            .get(&real)
            .ok_or_else(|| ImageError::CorruptArchive(format!("{what} {path} is missing")))
    }

    fn document<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<T, ImageError> {
        let real = self.real_path(path)?;
        let bytes = self
            .documents
            .get(&real)
            .ok_or_else(|| ImageError::CorruptArchive(format!("{what} {path} is missing")))?;
        serde_json::from_slice(bytes).map_err(|err| ImageError::Json(format!("{what} {path}"), err))
    }

    /// The blob a descriptor points at, checked against the descriptor's size.
    fn described(&self, descriptor: &Descriptor, what: &str) -> Result<String, ImageError> {
        let path = descriptor_path(&descriptor.digest)?;
        if !self.files.contains_key(&path) {
            if descriptor.urls.is_some() {
                return Err(ImageError::UnsupportedLayer(format!(
                    "foreign layer {} is not in the archive",
                    descriptor.digest
                )));
            }
            return Err(ImageError::CorruptArchive(format!(
                "{what} {} is missing",
                descriptor.digest
            )));
        }
        let blob = self.file(&path, what)?;
        if let Some(expected) = descriptor.size {
            if expected != blob.size {
                return Err(ImageError::CorruptArchive(format!(
                    "{what} {} is {} bytes, its descriptor says {expected}",
                    descriptor.digest, blob.size
                )));
            }
        }
        Ok(path)
    }
}

/// `sha256:<hex>` → `blobs/sha256/<hex>`.
fn descriptor_path(digest: &str) -> Result<String, ImageError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && is_lower_hex(hex) => {
            Ok(format!("blobs/sha256/{hex}"))
        }
        _ => Err(ImageError::UnsupportedLayer(format!(
            "digest {digest:?} is not sha256"
        ))),
    }
}

/// Decides which images the archive holds, verifying every digest the archive names.
pub(crate) fn plan_import(
    contents: &ArchiveContents,
    platform: &Platform,
) -> Result<Vec<PlannedImage>, ImageError> {
    verify_blob_paths(contents)?;
    let planned = if contents.documents.contains_key("manifest.json") {
        plan_docker_save(contents)?
    } else if contents.documents.contains_key("index.json") {
        plan_oci_layout(contents, platform)?
    } else {
        return Err(ImageError::CorruptArchive(
            "neither manifest.json (docker save) nor index.json (OCI image layout) is in it".into(),
        ));
    };
    // The same image reached twice (two tags for one manifest) becomes one, with both names.
    let mut merged: Vec<PlannedImage> = Vec::new();
    for image in planned {
        match merged
            .iter_mut()
            .find(|m| m.config_digest == image.config_digest)
        {
            Some(existing) => {
                for name in image.names {
                    if !existing.names.contains(&name) {
                        existing.names.push(name);
                    }
                }
            }
            None => merged.push(image),
        }
    }
    Ok(merged)
}

/// Any file stored at `blobs/sha256/<hex>` must hash to that digest.
fn verify_blob_paths(contents: &ArchiveContents) -> Result<(), ImageError> {
    for (path, blob) in &contents.files {
        if let Some(rest) = path.strip_prefix("blobs/") {
            let expected = rest.replacen('/', ":", 1);
            if expected != blob.digest {
                return Err(ImageError::DigestMismatch {
                    what: path.clone(),
                    expected,
                    actual: blob.digest.clone(),
                });
            }
        }
    }
    Ok(())
}

fn plan_docker_save(contents: &ArchiveContents) -> Result<Vec<PlannedImage>, ImageError> {
    let entries: Vec<DockerManifestEntry> = contents.document("manifest.json", "manifest")?;
    if entries.is_empty() {
        return Err(ImageError::CorruptArchive(
            "manifest.json lists no images".into(),
        ));
    }
    let mut images = Vec::new();
    for entry in entries {
        let config_blob = contents.file(&entry.config, "config")?;
        // Legacy archives name the config `<image id hex>.json`: the name is the digest.
        let file_name = entry.config.rsplit('/').next().unwrap_or_default();
        if let Some(hex) = file_name.strip_suffix(".json") {
            let expected = format!("sha256:{hex}");
            if hex.len() == 64 && is_lower_hex(hex) && expected != config_blob.digest {
                return Err(ImageError::DigestMismatch {
                    what: entry.config.clone(),
                    expected,
                    actual: config_blob.digest.clone(),
                });
            }
        }
        let config: ImageConfigFile = contents.document(&entry.config, "config")?;
        let blobs = entry
            .layers
            .iter()
            .map(|path| contents.file(path, "layer").map(|b| b.digest.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let names = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|tag| ImageReference::parse(tag))
            .collect::<Result<Vec<_>, _>>()?;
        images.push(PlannedImage {
            config_digest: config_blob.digest.clone(),
            layers: pair_diff_ids(blobs, &config)?,
            config,
            manifest_digest: None,
            names,
        });
    }
    Ok(images)
}

fn plan_oci_layout(
    contents: &ArchiveContents,
    platform: &Platform,
) -> Result<Vec<PlannedImage>, ImageError> {
    let index: OciIndex = contents.document("index.json", "index")?;
    if index.manifests.is_empty() {
        return Err(ImageError::CorruptArchive(
            "index.json lists no manifests".into(),
        ));
    }
    let mut images = Vec::new();
    for descriptor in &index.manifests {
        let names: Vec<ImageReference> = name_from_annotations(descriptor).into_iter().collect();
        for (manifest_digest, manifest) in manifests_for(contents, descriptor, platform, 0)? {
            let config_path = contents.described(&manifest.config, "config")?;
            let config: ImageConfigFile = contents.document(&config_path, "config")?;
            let blobs = manifest
                .layers
                .iter()
                .map(|layer| {
                    let media_type = layer.media_type.as_deref().unwrap_or_default();
                    if media_type.contains("zstd") {
                        return Err(ImageError::UnsupportedLayer(format!(
                            "layer {} is zstd-compressed; re-save it with gzip or no compression",
                            layer.digest
                        )));
                    }
                    contents.described(layer, "layer")?;
                    Ok(layer.digest.clone())
                })
                .collect::<Result<Vec<_>, _>>()?;
            images.push(PlannedImage {
                config_digest: manifest.config.digest.clone(),
                layers: pair_diff_ids(blobs, &config)?,
                config,
                manifest_digest: Some(manifest_digest),
                names: names.clone(),
            });
        }
    }
    Ok(images)
}

/// The image manifests a descriptor leads to: itself, or through (nested) indexes the
/// one for this node's platform.
fn manifests_for(
    contents: &ArchiveContents,
    descriptor: &Descriptor,
    platform: &Platform,
    depth: usize,
) -> Result<Vec<(String, OciManifest)>, ImageError> {
    if depth > 4 {
        return Err(ImageError::CorruptArchive("indexes nested too deep".into()));
    }
    let path = contents.described(descriptor, "manifest")?;
    let value: serde_json::Value = contents.document(&path, "manifest")?;
    let is_index = descriptor
        .media_type
        .as_deref()
        .is_some_and(|m| INDEX_MEDIA_TYPES.contains(&m))
        || value.get("manifests").is_some();
    if !is_index {
        let manifest: OciManifest = serde_json::from_value(value)
            .map_err(|err| ImageError::Json(format!("manifest {}", descriptor.digest), err))?;
        return Ok(vec![(descriptor.digest.clone(), manifest)]);
    }
    let index: OciIndex = serde_json::from_value(value)
        .map_err(|err| ImageError::Json(format!("index {}", descriptor.digest), err))?;
    let children = choose_platform(&index.manifests, platform)?;
    let mut found = Vec::new();
    for child in children {
        found.extend(manifests_for(contents, child, platform, depth + 1)?);
    }
    Ok(found)
}

/// From an index's entries: all of them when none names a platform, else the first one
/// for `platform` (attestation manifests, `unknown/unknown`, never match).
fn choose_platform<'a>(
    entries: &'a [Descriptor],
    platform: &Platform,
) -> Result<Vec<&'a Descriptor>, ImageError> {
    if entries.iter().all(|entry| entry.platform.is_none()) {
        return Ok(entries.iter().collect());
    }
    let matches = |candidate: &Platform| {
        candidate.os == platform.os
            && candidate.architecture == platform.architecture
            && (platform.variant.is_none()
                || candidate.variant.is_none()
                || candidate.variant == platform.variant)
    };
    match entries
        .iter()
        .find(|e| e.platform.as_ref().is_some_and(matches))
    {
        Some(entry) => Ok(vec![entry]),
        None => {
            let available: Vec<String> = entries
                .iter()
                .filter_map(|e| e.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            Err(ImageError::NoMatchingPlatform(format!(
                "the archive has {} but this node is {}/{}",
                available.join(", "),
                platform.os,
                platform.architecture
            )))
        }
    }
}

/// The image name an index entry carries: containerd's full-name annotation, or the OCI
/// ref name when it is a full reference rather than only a tag.
fn name_from_annotations(descriptor: &Descriptor) -> Option<ImageReference> {
    if let Some(name) = descriptor.annotation(CONTAINERD_IMAGE_NAME) {
        if let Ok(reference) = ImageReference::parse(name) {
            return Some(reference);
        }
    }
    let ref_name = descriptor.annotation(OCI_REF_NAME)?;
    if !ref_name.contains([':', '/', '@']) {
        // Only a tag ("1.0"): it names no repository. `--tag` can supply one.
        return None;
    }
    ImageReference::parse(ref_name).ok()
}

/// Pairs each layer blob with the uncompressed digest the config lists for it.
fn pair_diff_ids(
    blobs: Vec<String>,
    config: &ImageConfigFile,
) -> Result<Vec<PlannedLayer>, ImageError> {
    let diff_ids = config
        .rootfs
        .as_ref()
        .and_then(|r| r.diff_ids.clone())
        .unwrap_or_default();
    if !diff_ids.is_empty() && diff_ids.len() != blobs.len() {
        return Err(ImageError::CorruptArchive(format!(
            "the config lists {} layers, the manifest {}",
            diff_ids.len(),
            blobs.len()
        )));
    }
    let mut diff_ids = diff_ids.into_iter();
    Ok(blobs
        .into_iter()
        .map(|blob| PlannedLayer {
            blob,
            diff_id: diff_ids.next(),
        })
        .collect())
}

impl Platform {
    /// This node's platform, in OCI's names (`linux/amd64`, `linux/arm64`).
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            architecture: architecture.to_string(),
            os: "linux".to_string(),
            variant: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_normalise_archive_paths_and_refuse_climbing_out() {
        assert_eq!(
            normalise_archive_path("", "./a/./b").as_deref(),
            Some("a/b")
        );
        assert_eq!(
            normalise_archive_path("x", "../y/layer.tar").as_deref(),
            Some("y/layer.tar")
        );
        assert_eq!(normalise_archive_path("", "../etc"), None);
    }

    #[test]
    fn should_pick_the_node_platform_from_an_index() {
        let entry = |arch: &str| Descriptor {
            media_type: None,
            digest: format!("sha256:{arch}"),
            size: None,
            annotations: None,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: None,
            }),
            urls: None,
        };
        let entries = [entry("arm64"), entry("amd64")];
        let amd64 = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
        };
        assert_eq!(
            choose_platform(&entries, &amd64).unwrap()[0].digest,
            "sha256:amd64"
        );
        let s390x = Platform {
            architecture: "s390x".into(),
            ..amd64
        };
        assert!(matches!(
            choose_platform(&entries, &s390x),
            Err(ImageError::NoMatchingPlatform(_))
        ));
    }
}
