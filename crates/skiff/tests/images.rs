//! `skiff image`: declaring, listing and removing images in the node's store, and
//! a clear error for a file that is no image archive.

use std::process::Command;

fn skiff_image(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["image", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .output()
        .expect("skiff runs")
}

#[test]
fn should_declare_list_and_remove_a_host_image() {
    let dir = tempfile::tempdir().unwrap();
    let declared = skiff_image(dir.path(), &["host", "tools"]);
    assert!(
        declared.status.success(),
        "{}",
        String::from_utf8_lossy(&declared.stderr)
    );
    let listed = String::from_utf8(skiff_image(dir.path(), &["ls"]).stdout).unwrap();
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("tools ") && l.contains("latest")),
        "{listed}"
    );
    let removed = skiff_image(dir.path(), &["rm", "tools"]);
    assert!(removed.status.success());
    assert!(String::from_utf8_lossy(&removed.stdout).contains("untagged tools:latest"));
    let listed = String::from_utf8(skiff_image(dir.path(), &["ls"]).stdout).unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

#[test]
fn should_refuse_a_file_that_is_not_an_image_archive() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.tar");
    std::fs::write(&bogus, b"not a tarball at all").unwrap();
    let imported = skiff_image(dir.path(), &["import", bogus.to_str().unwrap()]);
    assert!(!imported.status.success());
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert!(
        stderr.contains("skiff: failed to read image archive"),
        "{stderr}"
    );
    let missing = skiff_image(dir.path(), &["rm", "nothing:here"]);
    assert!(!missing.status.success());
}
