//! What a container waiting for an image that is not on the node shows: Kubernetes'
//! reason, and a message that says how to import the image.
//!
//! The reasons are the kubelet's (pkg/kubelet/images/types.go and image_manager.go):
//! `ErrImageNeverPull` when `imagePullPolicy: Never`, `ErrImagePull` on the first failed
//! attempt and `ImagePullBackOff` while backing off, `InvalidImageName` when the name
//! does not parse. Pulling from registries is not supported yet, so every "pull" fails
//! and the message points at `skiff image import` instead.

use k8s_openapi::api::core::v1::Container;

use super::reference::ImageReference;

/// The `waiting` state of a container whose image is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingImage {
    /// `ErrImageNeverPull`, `ErrImagePull`, `ImagePullBackOff` or `InvalidImageName`.
    pub reason: &'static str,
    /// A sentence for `kubectl describe`, with the command that fixes it.
    pub message: String,
}

/// The waiting reason and message for `container`, whose image is not in the store on
/// `node_name`. `backing_off` is true once a first attempt has already failed.
pub fn missing_image(container: &Container, node_name: &str, backing_off: bool) -> MissingImage {
    let image = container.image.as_deref().unwrap_or_default();
    if let Err(err) = ImageReference::parse(image) {
        return MissingImage {
            reason: "InvalidImageName",
            message: format!("Failed to apply default image tag {image:?}: {err}"),
        };
    }
    let how_to_import =
        "import it with: skiff image import <file> (pulling from registries is not supported yet)";
    if container.image_pull_policy.as_deref() == Some("Never") {
        return MissingImage {
            reason: "ErrImageNeverPull",
            message: format!(
                "image {image:?} is not present on node {node_name} and imagePullPolicy is Never; {how_to_import}"
            ),
        };
    }
    let missing = format!("image {image:?} is not present on node {node_name}; {how_to_import}");
    if backing_off {
        MissingImage {
            reason: "ImagePullBackOff",
            message: format!("Back-off pulling image {image:?}: {missing}"),
        }
    } else {
        MissingImage {
            reason: "ErrImagePull",
            message: missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(image: &str, policy: Option<&str>) -> Container {
        Container {
            name: "web".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn should_say_never_pull_when_the_policy_is_never() {
        let waiting = missing_image(&container("nginx:1", Some("Never")), "n1", false);
        assert_eq!(waiting.reason, "ErrImageNeverPull");
        assert!(
            waiting.message.contains("skiff image import"),
            "{}",
            waiting.message
        );
    }

    #[test]
    fn should_say_err_image_pull_then_back_off_otherwise() {
        let first = missing_image(&container("nginx:1", Some("IfNotPresent")), "n1", false);
        assert_eq!(first.reason, "ErrImagePull");
        assert_eq!(
            first.message,
            "image \"nginx:1\" is not present on node n1; import it with: skiff image import <file> (pulling from registries is not supported yet)"
        );
        let later = missing_image(&container("nginx:1", None), "n1", true);
        assert_eq!(later.reason, "ImagePullBackOff");
        assert!(later
            .message
            .starts_with("Back-off pulling image \"nginx:1\""));
    }

    #[test]
    fn should_say_invalid_image_name_for_a_bad_reference() {
        assert_eq!(
            missing_image(&container("Bad Name", None), "n1", false).reason,
            "InvalidImageName"
        );
    }
}
