//! The image index: every image in the store, and the decisions on it — find a
//! reference, add an image, take a tag off or delete an image, list the blobs still
//! needed. Pure data and functions; `store.rs` reads and writes the file.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::blobs::digest_of;
use super::format::ImageConfig;
use super::reference::{is_lower_hex, ImageReference};
use super::ImageError;

/// The index file's format version.
pub(crate) const INDEX_VERSION: u32 = 1;
/// `skiff image rm` accepts id prefixes this long or longer, as `docker rmi` does.
const MIN_ID_PREFIX: usize = 4;

/// Where an image's root filesystem comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootFilesystem {
    /// Unpacked from the image's layers into `rootfs/<id hex>`.
    Unpacked,
    /// The node's own `/`, to be mounted read-only; declared with `import_host`.
    HostFilesystem,
}

/// One image in the store, as the index records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The config blob's digest, `sha256:<hex>`: the image id, as Docker and the CRI use it.
    pub id: String,
    /// Fully-qualified names, e.g. `docker.io/library/nginx:1`.
    pub repo_tags: Vec<String>,
    /// The manifest digest, when the archive had a manifest blob (OCI layouts).
    pub digest: Option<String>,
    /// Unpacked size in bytes (the sum of the uncompressed layers).
    pub size: u64,
    /// When the image was built, from its config.
    pub created: Option<DateTime<Utc>>,
    /// When it was imported here.
    pub imported: DateTime<Utc>,
    /// Unpacked, or the node's filesystem.
    pub rootfs: RootFilesystem,
    /// `amd64`, `arm64`, … from the config.
    pub architecture: Option<String>,
    /// What to run: Entrypoint, Cmd, Env, WorkingDir, User, …
    pub config: ImageConfig,
    /// Layer blob digests, base first.
    pub layers: Vec<String>,
}

impl Image {
    /// The short form for people and CLI output.
    pub fn summary(&self) -> ImageSummary {
        ImageSummary {
            id: self.id.clone(),
            repo_tags: self
                .repo_tags
                .iter()
                .map(|t| {
                    ImageReference::parse(t)
                        .map(|r| r.familiar())
                        .unwrap_or_else(|_| t.clone())
                })
                .collect(),
            size: self.size,
            created: self.created,
            host_filesystem: self.rootfs == RootFilesystem::HostFilesystem,
        }
    }
}

/// What an import or `ls` reports about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// `sha256:<hex>`.
    pub id: String,
    /// Familiar names: `nginx:1`, `localhost:5000/x:latest`.
    pub repo_tags: Vec<String>,
    /// Unpacked size in bytes.
    pub size: u64,
    /// Build time from the image config.
    pub created: Option<DateTime<Utc>>,
    /// True for an image that is the node's own filesystem.
    pub host_filesystem: bool,
}

/// What `remove` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// Tags taken off (familiar form).
    pub untagged: Vec<String>,
    /// The id of the image deleted, when the last tag went or it was named by id.
    pub deleted: Option<String>,
}

/// The id of the host image: there is no config blob, so a fixed, recognisable digest.
pub(crate) fn host_image_id() -> String {
    digest_of(b"skiff: the node's own root filesystem, mounted read-only")
}

/// The index: every image in the store. Pure data and decisions, no I/O.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ImageIndex {
    pub version: u32,
    pub images: Vec<Image>,
}

/// How a reference matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matched {
    /// Through this (full) tag.
    Tag(String),
    /// Through the id or a digest.
    Id,
}

impl ImageIndex {
    /// Finds the image `reference` names: `sha256:<id>`, a name with Docker's
    /// normalisation, `name@sha256:<digest>`, or (with `id_prefixes`) a short id.
    pub fn find(
        &self,
        reference: &str,
        id_prefixes: bool,
    ) -> Result<Option<(usize, Matched)>, ImageError> {
        let min_prefix = if id_prefixes { MIN_ID_PREFIX } else { 64 };
        if let Some(hex) = reference.strip_prefix("sha256:") {
            if is_lower_hex(hex) && hex.len() <= 64 && hex.len() >= min_prefix {
                return self.find_by_id_prefix(hex, reference);
            }
        }
        let parsed = ImageReference::parse(reference);
        if let Ok(parsed) = &parsed {
            let found = match &parsed.digest {
                Some(digest) => self.images.iter().position(|image| {
                    let same_content = image.digest.as_ref() == Some(digest) || &image.id == digest;
                    let repository = parsed.repository();
                    let same_repository = image.repo_tags.is_empty()
                        || image
                            .repo_tags
                            .iter()
                            .any(|t| tag_repository(t) == repository);
                    same_content && same_repository
                }),
                None => {
                    let full = parsed.to_string();
                    self.images
                        .iter()
                        .position(|image| image.repo_tags.contains(&full))
                }
            };
            if let Some(index) = found {
                let matched = match &parsed.digest {
                    Some(_) => Matched::Id,
                    None => Matched::Tag(parsed.to_string()),
                };
                return Ok(Some((index, matched)));
            }
        }
        if is_lower_hex(reference) && reference.len() >= min_prefix && reference.len() <= 64 {
            return self.find_by_id_prefix(reference, reference);
        }
        parsed.map(|_| None)
    }

    fn find_by_id_prefix(
        &self,
        hex: &str,
        reference: &str,
    ) -> Result<Option<(usize, Matched)>, ImageError> {
        let matches: Vec<usize> = (0..self.images.len())
            .filter(|&i| self.images[i].id["sha256:".len()..].starts_with(hex))
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one, Matched::Id))),
            many => Err(ImageError::Ambiguous(format!(
                "{reference:?} matches {} images: {}",
                many.len(),
                many.iter()
                    .map(|&i| self.images[i].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Adds an image, or merges its tags into the same id. A tag names one image: taking
    /// it leaves the previous holder untagged (dangling), as `docker load` does.
    pub fn insert(&mut self, image: Image) -> Image {
        for other in self.images.iter_mut().filter(|other| other.id != image.id) {
            other.repo_tags.retain(|t| !image.repo_tags.contains(t));
        }
        match self
            .images
            .iter_mut()
            .find(|existing| existing.id == image.id)
        {
            Some(existing) => {
                for tag in image.repo_tags {
                    if !existing.repo_tags.contains(&tag) {
                        existing.repo_tags.push(tag);
                    }
                }
                if existing.digest.is_none() {
                    existing.digest = image.digest;
                }
                existing.clone()
            }
            None => {
                self.images.push(image.clone());
                image
            }
        }
    }

    /// `docker rmi` semantics: a tag is taken off, and the image goes with its last tag;
    /// an id or digest deletes the image, unless several tags still name it.
    pub fn remove(&mut self, reference: &str) -> Result<(Removal, Option<Image>), ImageError> {
        let (index, matched) = self
            .find(reference, true)?
            .ok_or_else(|| ImageError::NotFound(reference.to_string()))?;
        let image = &mut self.images[index];
        let mut removal = Removal::default();
        match matched {
            Matched::Tag(tag) => {
                image.repo_tags.retain(|t| *t != tag);
                removal.untagged.push(familiar(&tag));
            }
            Matched::Id if image.repo_tags.len() > 1 => {
                return Err(ImageError::Ambiguous(format!(
                    "image {} is tagged {}; remove the tags one by one",
                    image.id,
                    image
                        .repo_tags
                        .iter()
                        .map(|t| familiar(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Matched::Id => {
                removal.untagged = image.repo_tags.drain(..).map(|t| familiar(&t)).collect();
            }
        }
        if !image.repo_tags.is_empty() {
            return Ok((removal, None));
        }
        let gone = self.images.remove(index);
        removal.deleted = Some(gone.id.clone());
        Ok((removal, Some(gone)))
    }

    /// Every blob some image still needs.
    pub fn referenced_blobs(&self) -> BTreeSet<String> {
        self.images
            .iter()
            .flat_map(|image| {
                std::iter::once(image.id.clone())
                    .chain(image.digest.clone())
                    .chain(image.layers.iter().cloned())
            })
            .collect()
    }
}

fn familiar(tag: &str) -> String {
    ImageReference::parse(tag)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| tag.to_string())
}

/// `docker.io/library/nginx:1` → `docker.io/library/nginx`.
fn tag_repository(tag: &str) -> String {
    ImageReference::parse(tag)
        .map(|r| r.repository())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_refuse_an_ambiguous_id_prefix() {
        let mut index = ImageIndex::default();
        for id in ["sha256:abcd1111", "sha256:abcd2222"] {
            index.insert(Image {
                id: id.into(),
                repo_tags: vec![],
                digest: None,
                size: 0,
                created: None,
                imported: Utc::now(),
                rootfs: RootFilesystem::Unpacked,
                architecture: None,
                config: ImageConfig::default(),
                layers: vec![],
            });
        }
        assert!(matches!(
            index.remove("abcd"),
            Err(ImageError::Ambiguous(_))
        ));
        assert!(index.remove("abcd1").unwrap().1.is_some());
    }
}
