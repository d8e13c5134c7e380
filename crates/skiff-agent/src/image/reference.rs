//! Image references, normalised as Docker does (`nginx` = `docker.io/library/nginx:latest`).
//!
//! The grammar and the normalisation follow github.com/distribution/reference
//! (`normalize.go`, `regexp.go`): a first path component with a `.` or `:`, `localhost`,
//! or an upper-case letter is a registry; otherwise the registry is `docker.io`, and a
//! single-component Docker Hub name gets the `library/` prefix.

use std::fmt;

use super::ImageError;

/// The registry Docker assumes when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The old spelling of Docker Hub, which normalises to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Docker Hub's namespace for official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag Docker assumes when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// distribution/reference's limit on the name (domain and path).
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed, fully-qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageReference {
    /// The registry, e.g. `docker.io` or `localhost:5000`.
    pub domain: String,
    /// The repository path inside the registry, e.g. `library/nginx`.
    pub path: String,
    /// The tag; `latest` when the reference had neither tag nor digest.
    pub tag: Option<String>,
    /// A content digest (`sha256:…`), when the reference pinned one.
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses and normalises a reference such as `nginx`, `foo/bar:1`,
    /// `localhost:5000/x` or `name@sha256:…`.
    pub fn parse(input: &str) -> Result<Self, ImageError> {
        let invalid = |why: &str| ImageError::InvalidReference(input.to_string(), why.to_string());
        if input.is_empty() {
            return Err(invalid("the reference is empty"));
        }
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                if !is_valid_digest(digest) {
                    return Err(invalid("the digest must be sha256: and 64 hex digits"));
                }
                (name, Some(digest.to_string()))
            }
            None => (input, None),
        };
        // A tag follows the last ':' only when no '/' comes after it, so that the port
        // in `localhost:5000/x` is not taken for a tag.
        let last_slash = name_and_tag.rfind('/');
        let (name, tag) = match name_and_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => (
                &name_and_tag[..colon],
                Some(name_and_tag[colon + 1..].to_string()),
            ),
            _ => (name_and_tag, None),
        };
        if let Some(tag) = &tag {
            if !is_valid_tag(tag) {
                return Err(invalid(
                    "a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with . or -",
                ));
            }
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(invalid("the name is longer than 255 characters"));
        }
        let (domain, path) = split_domain(name);
        if domain != DEFAULT_DOMAIN && !is_valid_domain(&domain) {
            return Err(invalid("the registry host is not valid"));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("the repository name must be lowercase"));
        }
        if !path.split('/').all(is_valid_path_component) {
            return Err(invalid(
                "each repository path component is lowercase letters and digits, separated by '.', '_', '__' or '-'",
            ));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag,
        };
        Ok(ImageReference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The repository without tag or digest: `docker.io/library/nginx`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form Docker prints: `nginx:latest`, `foo/bar:1`, `localhost:5000/x:latest`.
    pub fn familiar(&self) -> String {
        let mut out = familiar_repository(&self.repository());
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for ImageReference {
    /// The fully-qualified form: `docker.io/library/nginx:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `docker.io/library/nginx` → `nginx`, `docker.io/foo/bar` → `foo/bar`; others unchanged.
pub fn familiar_repository(repository: &str) -> String {
    match repository.strip_prefix("docker.io/") {
        Some(rest) => rest
            .strip_prefix(OFFICIAL_REPO_PREFIX)
            .unwrap_or(rest)
            .to_string(),
        None => repository.to_string(),
    }
}

/// Splits `name` into registry and path, as distribution/reference's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

/// `sha256:` and 64 lower-case hex digits: the only digest this store computes.
pub fn is_valid_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && is_lower_hex(hex))
}

/// True for a non-empty string of `0-9a-f`.
pub fn is_lower_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    first_ok
        && tag.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A host name (letters, digits, '-', '.') with an optional numeric port.
fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(input: &str) -> String {
        ImageReference::parse(input).unwrap().to_string()
    }

    #[test]
    fn should_normalise_an_official_image_to_docker_hub_library_latest() {
        assert_eq!(full("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(full("nginx:1"), "docker.io/library/nginx:1");
        assert_eq!(full("docker.io/nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            full("index.docker.io/library/nginx"),
            "docker.io/library/nginx:latest"
        );
    }

    #[test]
    fn should_put_user_repositories_on_docker_hub_without_library() {
        assert_eq!(full("foo/bar:1"), "docker.io/foo/bar:1");
        assert_eq!(full("foo/bar/baz"), "docker.io/foo/bar/baz:latest");
    }

    #[test]
    fn should_treat_hosts_with_port_dot_or_localhost_as_registries() {
        assert_eq!(full("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(full("localhost/x:2"), "localhost/x:2");
        assert_eq!(
            full("registry.k8s.io/pause:3.9"),
            "registry.k8s.io/pause:3.9"
        );
        assert_eq!(full("localhost"), "docker.io/library/localhost:latest");
    }

    #[test]
    fn should_keep_digests_without_adding_a_tag() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let reference = ImageReference::parse(&format!("nginx@{digest}")).unwrap();
        assert_eq!(reference.tag, None);
        assert_eq!(
            reference.to_string(),
            format!("docker.io/library/nginx@{digest}")
        );
        assert_eq!(reference.familiar(), format!("nginx@{digest}"));
        let both = ImageReference::parse(&format!("nginx:1@{digest}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("1"));
    }

    #[test]
    fn should_print_the_familiar_form() {
        assert_eq!(
            ImageReference::parse("nginx").unwrap().familiar(),
            "nginx:latest"
        );
        assert_eq!(
            ImageReference::parse("foo/bar:1").unwrap().familiar(),
            "foo/bar:1"
        );
        assert_eq!(
            ImageReference::parse("localhost:5000/x")
                .unwrap()
                .familiar(),
            "localhost:5000/x:latest"
        );
    }

    #[test]
    fn should_not_allow_malformed_references() {
        for bad in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-x",
            "nginx@sha256:abc",
            "foo//bar",
            "foo/-bar",
            "foo/bar_",
            "exa mple",
        ] {
            assert!(
                ImageReference::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
