//! Small `docker save` and OCI-layout archives built in memory for the tests: two layers
//! with a whiteout, an opaque directory, an absolute symlink, a hard link and a gzip layer.

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use serde_json::json;

use super::blobs::digest_of;
use super::format::Platform;

/// One entry of a test layer.
pub(crate) enum TestEntry<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    /// A file whose path bytes go into the header unchecked (the tar crate refuses `..`).
    RawFile(&'a [u8], &'a [u8]),
}

/// A built archive and the digests the tests expect.
pub(crate) struct TestArchive {
    pub bytes: Vec<u8>,
    pub config_digest: String,
    pub manifest_digest: String,
}

pub(crate) fn layer_tar(entries: &[TestEntry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(1_700_000_000);
        match entry {
            TestEntry::Dir(path, mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder.append_data(&mut header, path, &[][..]).unwrap();
            }
            TestEntry::File(path, data, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, *data).unwrap();
            }
            TestEntry::Symlink(path, target) | TestEntry::HardLink(path, target) => {
                let kind = match entry {
                    TestEntry::Symlink(..) => tar::EntryType::Symlink,
                    _ => tar::EntryType::Link,
                };
                header.set_entry_type(kind);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target).unwrap();
            }
            TestEntry::RawFile(path, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.as_old_mut().name[..path.len()].copy_from_slice(path);
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
                header.set_cksum();
                builder.append(&header, *data).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The base layer: accounts, a binary and its hard link, `lib -> /usr/lib`, a private
/// directory, and files the next layer hides.
pub(crate) fn first_layer() -> Vec<u8> {
    use TestEntry::*;
    layer_tar(&[
        Dir("etc", 0o755),
        File(
            "etc/passwd",
            b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
            0o644,
        ),
        File("etc/group", b"root:x:0:\napp:x:1000:\n", 0o644),
        File("etc/remove-me", b"lower\n", 0o644),
        File("etc/motd", b"layer one\n", 0o644),
        Dir("bin", 0o755),
        File("bin/app", b"#!/bin/sh\necho app\n", 0o755),
        HardLink("bin/app-link", "bin/app"),
        Dir("usr", 0o755),
        Dir("usr/lib", 0o755),
        File("usr/lib/libx.so", b"lib", 0o644),
        Symlink("lib", "/usr/lib"),
        Dir("var", 0o755),
        Dir("var/cache", 0o755),
        File("var/cache/old", b"stale", 0o644),
        Dir("secret", 0o700),
        File("secret/key", b"k", 0o600),
    ])
}

/// The top layer: a whiteout, an opaque directory (whose new file comes first, as some
/// builders write it), a changed file and a file written through the absolute symlink.
pub(crate) fn second_layer() -> Vec<u8> {
    use TestEntry::*;
    layer_tar(&[
        File("etc/.wh.remove-me", b"", 0o644),
        File("etc/motd", b"layer two\n", 0o644),
        Dir("var/cache", 0o755),
        File("var/cache/new", b"fresh", 0o644),
        File("var/cache/.wh..wh..opq", b"", 0o644),
        File("lib/added.so", b"added", 0o644),
    ])
}

fn config_json(flavour: &str, diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "created": "2024-05-01T12:00:00.123456789Z",
        "architecture": Platform::host().architecture,
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/app"],
            "Cmd": ["serve"],
            "Env": ["PATH=/bin"],
            "WorkingDir": "",
            "Labels": { "flavour": flavour },
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap()
}

enum OuterEntry {
    File(String, Vec<u8>),
    Symlink(String, String),
}

fn outer_tar(entries: Vec<OuterEntry>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        match entry {
            OuterEntry::File(path, data) => {
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, &data[..]).unwrap();
            }
            OuterEntry::Symlink(path, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, path, target).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

fn hex(digest: &str) -> &str {
    &digest["sha256:".len()..]
}

/// A legacy `docker save` archive of the two test layers, the second gzipped and listed
/// through an archive symlink (as Docker links repeated layers). `corrupt_diff_id` makes
/// the config promise a different first layer.
pub(crate) fn docker_save_archive(tags: &[&str], corrupt_diff_id: bool) -> TestArchive {
    let layers = [first_layer(), gzip(&second_layer())];
    let mut diff_ids = vec![digest_of(&first_layer()), digest_of(&second_layer())];
    if corrupt_diff_id {
        diff_ids[0] = digest_of(b"something else");
    }
    docker_save_inner(&layers, &diff_ids, tags)
}

/// A `docker save` archive of arbitrary layers, with matching diff ids.
pub(crate) fn docker_save_with_layers(layers: &[Vec<u8>], tags: &[&str]) -> TestArchive {
    let diff_ids: Vec<String> = layers.iter().map(|l| digest_of(l)).collect();
    docker_save_inner(layers, &diff_ids, tags)
}

fn docker_save_inner(layers: &[Vec<u8>], diff_ids: &[String], tags: &[&str]) -> TestArchive {
    let config = config_json("docker", diff_ids);
    let config_digest = digest_of(&config);
    let mut entries = Vec::new();
    let mut layer_paths = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let dir = hex(&digest_of(layer)).to_string();
        entries.push(OuterEntry::File(format!("{dir}/VERSION"), b"1.0".to_vec()));
        entries.push(OuterEntry::File(format!("{dir}/layer.tar"), layer.clone()));
        if i == 1 {
            entries.push(OuterEntry::Symlink(
                "dup/layer.tar".into(),
                format!("../{dir}/layer.tar"),
            ));
            layer_paths.push("dup/layer.tar".to_string());
        } else {
            layer_paths.push(format!("{dir}/layer.tar"));
        }
    }
    entries.push(OuterEntry::File(
        format!("{}.json", hex(&config_digest)),
        config,
    ));
    let manifest = json!([{ "Config": format!("{}.json", hex(&config_digest)), "RepoTags": tags, "Layers": layer_paths }]);
    entries.push(OuterEntry::File(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    TestArchive {
        bytes: outer_tar(entries),
        config_digest,
        manifest_digest: String::new(),
    }
}

/// An OCI image layout: index.json → nested image index (one entry for `platform`, one
/// for another architecture) → manifest → config and two layers, the second gzipped.
/// `corrupt_blob` stores the first layer under a digest its bytes do not have.
pub(crate) fn oci_layout_archive(
    name: Option<&str>,
    platform: &Platform,
    corrupt_blob: bool,
) -> TestArchive {
    let first = first_layer();
    let second = gzip(&second_layer());
    let config = config_json("oci", &[digest_of(&first), digest_of(&second_layer())]);
    let descriptor = |media_type: &str, bytes: &[u8]| json!({ "mediaType": media_type, "digest": digest_of(bytes), "size": bytes.len() });
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [
            descriptor("application/vnd.oci.image.layer.v1.tar", &first),
            descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &second),
        ],
    }))
    .unwrap();
    let mut for_platform = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    for_platform["platform"] = json!({ "architecture": platform.architecture, "os": platform.os });
    let other_arch = json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest_of(b"not in this archive"),
        "size": 1,
        "platform": { "architecture": "riscv-elsewhere", "os": "linux" },
    });
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [other_arch, for_platform],
    }))
    .unwrap();
    let mut top = descriptor("application/vnd.oci.image.index.v1+json", &nested);
    if let Some(name) = name {
        top["annotations"] = json!({ "org.opencontainers.image.ref.name": name });
    }
    let index = serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": [top] })).unwrap();

    let blob = |bytes: &[u8]| {
        OuterEntry::File(
            format!("blobs/sha256/{}", hex(&digest_of(bytes))),
            bytes.to_vec(),
        )
    };
    let mut first_blob = blob(&first);
    if corrupt_blob {
        if let OuterEntry::File(_, data) = &mut first_blob {
            data.push(0);
        }
    }
    let entries = vec![
        OuterEntry::File(
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        first_blob,
        blob(&second),
        blob(&config),
        blob(&manifest),
        blob(&nested),
        OuterEntry::File("index.json".into(), index),
    ];
    TestArchive {
        bytes: outer_tar(entries),
        config_digest: digest_of(&config),
        manifest_digest: digest_of(&manifest),
    }
}
