#!/usr/bin/env bash
# Builds the demo image: skiff-demo in release, packed as an OCI image-layout tarball that
# `skiff image import` loads. Uses only tools of a Debian machine (bash, coreutils, tar,
# gzip, ldd, python3 for the final check); no docker, and no network except apt for
# busybox-static when /bin/busybox is missing.
#
# usage: scripts/build-demo-image.sh [OUT]     (default: target/demo-image.tar)
#   DEMO_IMAGE_NAME   the name the image imports as (default skiff.dev/demo:latest)
#   SOURCE_DATE_EPOCH timestamps in the image (default: the last commit's time), so that
#                     the same binary always gives the same digests
#
# The tarball (OCI image layout, https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
#   oci-layout                 {"imageLayoutVersion":"1.0.0"}
#   index.json                 one manifest descriptor, annotated
#                              org.opencontainers.image.ref.name = DEMO_IMAGE_NAME
#   blobs/sha256/<manifest>    application/vnd.oci.image.manifest.v1+json
#   blobs/sha256/<config>      application/vnd.oci.image.config.v1+json:
#                              Entrypoint ["/skiff-demo"], Env PATH=/bin:/usr/bin,
#                              ExposedPorts 80, 8080, 8081, 9502
#   blobs/sha256/<layer>       application/vnd.oci.image.layer.v1.tar+gzip, one layer:
#     /skiff-demo              the demo binary (stripped)
#     /lib/..., /lib64/...     the shared libraries ldd lists, and the dynamic loader
#     /bin/busybox             from Debian's busybox-static, with applet links sh, wget,
#                              cat, ls, env, sleep, nslookup, hostname
#     /usr/bin/curl            a stand-in running `skiff-demo get URL` (GET only), because
#                              the scenarios tell users to `curl` from inside a pod
#     /etc/passwd, /etc/group, /etc/nsswitch.conf, /etc/hosts, /etc/resolv.conf
#     /tmp (1777); /dev, /proc, /sys as empty mount points
#
# Importing under the scenarios' image names (the manifests stay as users wrote them):
#   skiff image import target/demo-image.tar                   # skiff.dev/demo:latest
#   skiff image import target/demo-image.tar --tag crossoverjie/k8s-combat:v1
#   skiff image import target/demo-image.tar --tag mirrors-registry-hub.com/mytestspace:serverab-v2
#   skiff image import target/demo-image.tar --tag beckjin/k8sdemo:1.0.0
#   skiff image import target/demo-image.tar --tag demo        # selectors-and-discovery
#   skiff image import target/demo-image.tar --tag skiff.dev/demo:v1   # rollout: v1 and v2
#   skiff image import target/demo-image.tar --tag skiff.dev/demo:v2
set -euo pipefail

caller_dir="$PWD"
cd "$(dirname "$0")/.."
repo_dir="$PWD"

out="${1:-$repo_dir/target/demo-image.tar}"
case "$out" in /*) ;; *) out="$caller_dir/$out" ;; esac
image_name="${DEMO_IMAGE_NAME:-skiff.dev/demo:latest}"
target_dir="${CARGO_TARGET_DIR:-$repo_dir/target}"
ports=(80 8080 8081 9502)
applets=(sh wget cat ls env sleep nslookup hostname)

# --- inputs ---------------------------------------------------------------------------

# The image needs a busybox that runs without libraries of its own: Debian's
# busybox-static. A dynamically linked /bin/busybox (package `busybox`) would not run.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
  echo "installing busybox-static"
  DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static; }
fi

cargo build --release -p skiff-demo
binary="$target_dir/release/skiff-demo"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo_dir/Cargo.toml" | head -n1)"

epoch="${SOURCE_DATE_EPOCH:-$(git -C "$repo_dir" log -1 --format=%ct 2>/dev/null || echo 0)}"
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
case "$(uname -m)" in
  x86_64) architecture=amd64 ;;
  aarch64) architecture=arm64 ;;
  *) architecture="$(uname -m)" ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
layout="$work/layout"
mkdir -p "$rootfs" "$layout/blobs/sha256"

# --- the root filesystem --------------------------------------------------------------

install -m 0755 "$binary" "$rootfs/skiff-demo"
strip --strip-all "$rootfs/skiff-demo" 2>/dev/null || true

# Every library the binary loads, at the path ldd found it (symlinks followed), and the
# loader at the binary's PT_INTERP path. ldd prints `name => /path (addr)` for libraries
# and `/path (addr)` for the loader; the vdso has no path and is skipped.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  while read -r library; do
    mkdir -p "$rootfs$(dirname "$library")"
    cp -L "$library" "$rootfs$library"
  done

mkdir -p "$rootfs/bin" "$rootfs/usr/bin" "$rootfs/etc" "$rootfs/tmp" \
  "$rootfs/dev" "$rootfs/proc" "$rootfs/sys"
install -m 0755 /bin/busybox "$rootfs/bin/busybox"
for applet in "${applets[@]}"; do
  ln -s busybox "$rootfs/bin/$applet"
done

cat >"$rootfs/usr/bin/curl" <<'EOF'
#!/bin/sh
# Not curl: a stand-in so that `curl URL` from the scenarios works in the demo image.
# It GETs the last argument that looks like a URL; curl's options are ignored.
url=""
for arg in "$@"; do
  case "$arg" in http://*|https://*) url="$arg" ;; esac
done
[ -n "$url" ] || { echo "usage: curl http://host[:port]/path (a stand-in for curl: GET only)" >&2; exit 2; }
exec /skiff-demo get "$url"
EOF
chmod 0755 "$rootfs/usr/bin/curl"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
# glibc's resolver reads this to try /etc/hosts before DNS, as Debian does.
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
# Placeholders: the agent gives each pod its own hosts and resolv.conf, and a bind mount
# needs an existing file to mount onto.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"

find "$rootfs" -type d -exec chmod 0755 {} +
find "$rootfs/etc" -type f -exec chmod 0644 {} +
chmod 1777 "$rootfs/tmp"

# --- blobs ----------------------------------------------------------------------------

# Fixed owners, order and times, and gzip without a name or time: the same inputs give
# the same bytes, hence the same digests.
deterministic_tar=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=gnu)

# Writes stdin to the blob store and prints its digest (sha256:<hex>).
store_blob() {
  local file="$work/blob" hex
  cat >"$file"
  hex="$(sha256sum "$file" | cut -d' ' -f1)"
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex"
}
blob_size() {
  stat -c %s "$layout/blobs/sha256/${1#sha256:}"
}

(cd "$rootfs" && ls -A | LC_ALL=C sort) >"$work/top-level"
tar --create --file "$work/layer.tar" --directory "$rootfs" "${deterministic_tar[@]}" \
  --files-from "$work/top-level"
diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
layer_digest="$(gzip -9 -n -c "$work/layer.tar" | store_blob)"

exposed_ports="$(printf '"%s/tcp": {}, ' "${ports[@]}")"
config_digest="$(store_blob <<EOF
{
  "created": "$created",
  "architecture": "$architecture",
  "os": "linux",
  "config": {
    "Entrypoint": ["/skiff-demo"],
    "Env": ["PATH=/bin:/usr/bin"],
    "WorkingDir": "/",
    "ExposedPorts": {${exposed_ports%, }},
    "StopSignal": "SIGTERM",
    "Labels": {
      "org.opencontainers.image.title": "skiff-demo",
      "org.opencontainers.image.version": "$version"
    }
  },
  "rootfs": {"type": "layers", "diff_ids": ["$diff_id"]},
  "history": [{"created": "$created", "created_by": "scripts/build-demo-image.sh"}]
}
EOF
)"

manifest_digest="$(store_blob <<EOF
{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "$config_digest",
    "size": $(blob_size "$config_digest")
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "$layer_digest",
      "size": $(blob_size "$layer_digest")
    }
  ]
}
EOF
)"

cat >"$layout/index.json" <<EOF
{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "$manifest_digest",
      "size": $(blob_size "$manifest_digest"),
      "platform": {"architecture": "$architecture", "os": "linux"},
      "annotations": {
        "org.opencontainers.image.ref.name": "$image_name",
        "io.containerd.image.name": "$image_name"
      }
    }
  ]
}
EOF
printf '{"imageLayoutVersion": "1.0.0"}\n' >"$layout/oci-layout"

mkdir -p "$(dirname "$out")"
tar --create --file "$out.partial" --directory "$layout" "${deterministic_tar[@]}" \
  oci-layout index.json blobs
mv "$out.partial" "$out"

# --- check ----------------------------------------------------------------------------

# Read the tarball back the way an importer does: index -> manifest -> config and layer,
# every digest and size verified, and the files the image promises present.
python3 - "$out" "${applets[@]}" <<'EOF'
import gzip, hashlib, io, json, sys, tarfile

path, applets = sys.argv[1], sys.argv[2:]
with tarfile.open(path) as outer:
    def blob(descriptor, media_type):
        assert descriptor["mediaType"] == media_type, descriptor
        algorithm, hex_digest = descriptor["digest"].split(":")
        data = outer.extractfile(f"blobs/{algorithm}/{hex_digest}").read()
        assert hashlib.sha256(data).hexdigest() == hex_digest, f"digest mismatch: {descriptor}"
        assert len(data) == descriptor["size"], f"size mismatch: {descriptor}"
        return data

    assert json.load(outer.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
    index = json.load(outer.extractfile("index.json"))
    [entry] = index["manifests"]
    manifest = json.loads(blob(entry, "application/vnd.oci.image.manifest.v1+json"))
    config = json.loads(blob(manifest["config"], "application/vnd.oci.image.config.v1+json"))
    [layer_descriptor] = manifest["layers"]
    layer = gzip.decompress(blob(layer_descriptor, "application/vnd.oci.image.layer.v1.tar+gzip"))
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert config["rootfs"]["diff_ids"] == [diff_id], "diff_id mismatch"
    assert config["config"]["Entrypoint"] == ["/skiff-demo"]

    with tarfile.open(fileobj=io.BytesIO(layer)) as rootfs:
        names = set(rootfs.getnames())
        expected = {"skiff-demo", "bin/busybox", "etc/passwd", "etc/group", "tmp"}
        expected |= {f"bin/{applet}" for applet in applets}
        missing = expected - names
        assert not missing, f"missing from the layer: {sorted(missing)}"
        assert all(rootfs.getmember(f"bin/{a}").linkname == "busybox" for a in applets)
        loaders = [n for n in names if "/ld-linux" in n]
        assert loaders, "no dynamic loader in the layer"

print(f"wrote {path}: {entry['annotations']['org.opencontainers.image.ref.name']}, "
      f"manifest {entry['digest'][:19]}, {len(names)} files, "
      f"layer {layer_descriptor['size'] / 1e6:.1f} MB compressed")
EOF
