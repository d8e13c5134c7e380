//! Manifests several tests apply, as YAML text.

/// A Deployment `web` of `replicas` pods labelled `app: web` with one container.
/// `metadata` lines go under the Deployment's metadata; `container` lines are the
/// container's fields (`name: …`, `image: …`, …), written as a list item under
/// `containers:`, so that tests may edit the text.
pub fn web_deployment(replicas: u32, metadata: &[&str], container: &[&str]) -> String {
    let mut yaml =
        String::from("\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
    for line in metadata {
        yaml += &format!("  {line}\n");
    }
    yaml += &format!(
        "spec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n"
    );
    for (i, line) in container.iter().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        yaml += &format!("        {lead}{line}\n");
    }
    yaml
}
