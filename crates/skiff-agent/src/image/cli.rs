//! What `skiff image import` and `skiff image ls` print: a progress bar on stderr while
//! importing, and Docker's image table.

use std::path::Path;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::reference::{familiar_repository, ImageReference};
use super::store::{Image, ImageStore, ImageSummary, ImportPhase, RootFilesystem};
use super::ImageError;

const BAR_TEMPLATE: &str = "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}";
const SPINNER_TEMPLATE: &str = "{msg:>9} {spinner} {bytes} {bytes_per_sec}";

/// Imports the archive at `path`, drawing a progress bar on stderr (hidden when stderr is
/// not a terminal). Returns every image the archive held.
pub fn import_with_progress(
    store: &ImageStore,
    path: &Path,
    tag: Option<&str>,
) -> Result<Vec<ImageSummary>, ImageError> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let bar_style = ProgressStyle::with_template(BAR_TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let spinner_style = ProgressStyle::with_template(SPINNER_TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut phase = None;
    let result = store.import(path, tag, &mut |progress| {
        if phase != Some(progress.phase) {
            phase = Some(progress.phase);
            bar.reset();
            bar.set_message(match progress.phase {
                ImportPhase::Reading => "reading",
                ImportPhase::Unpacking => "unpacking",
            });
            match progress.total {
                Some(total) => {
                    bar.set_style(bar_style.clone());
                    bar.set_length(total);
                }
                None => bar.set_style(spinner_style.clone()),
            }
        }
        bar.set_position(progress.done);
    });
    bar.finish_and_clear();
    result
}

/// `docker images`' table: REPOSITORY, TAG, IMAGE ID, CREATED, SIZE; one row per tag,
/// `<none>` for an untagged image, `host /` as the size of a host-filesystem image.
pub fn render_image_table(images: &[Image], now: DateTime<Utc>) -> String {
    let mut rows = vec![[
        "REPOSITORY".to_string(),
        "TAG".to_string(),
        "IMAGE ID".to_string(),
        "CREATED".to_string(),
        "SIZE".to_string(),
    ]];
    for image in images {
        let short_id: String = image
            .id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        let created = image
            .created
            .map(|c| format!("{} ago", human_duration(now.signed_duration_since(c))))
            .unwrap_or_else(|| "N/A".into());
        let size = match image.rootfs {
            RootFilesystem::HostFilesystem => "host /".to_string(),
            RootFilesystem::Unpacked => human_size(image.size),
        };
        let names: Vec<(String, String)> = if image.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            image
                .repo_tags
                .iter()
                .map(|tag| match ImageReference::parse(tag) {
                    Ok(r) => (
                        familiar_repository(&r.repository()),
                        r.tag.unwrap_or_default(),
                    ),
                    Err(_) => (tag.clone(), String::new()),
                })
                .collect()
        };
        for (repository, tag) in names {
            rows.push([
                repository,
                tag,
                short_id.clone(),
                created.clone(),
                size.clone(),
            ]);
        }
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// Docker's `units.HumanSize`: decimal units, three significant digits (`187MB`, `5.61MB`).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 999.5 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value >= 99.95 {
        0
    } else if value >= 9.995 {
        1
    } else {
        2
    };
    let mut number = format!("{value:.decimals$}");
    if number.contains('.') {
        number = number
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    format!("{number}{}", UNITS[unit])
}

/// Docker's `units.HumanDuration`, as `docker images` prints CREATED.
fn human_duration(duration: chrono::TimeDelta) -> String {
    let seconds = duration.num_seconds().max(0);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => plural(s, "second"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s < 3600 => plural(s / 60, "minute"),
        s if (s as f64 / 3600.0).round() as i64 == 1 => "About an hour".into(),
        s if s < 48 * 3600 => plural((s as f64 / 3600.0).round() as i64, "hour"),
        s if s < 7 * 24 * 3600 * 2 => plural(s / (24 * 3600), "day"),
        s if s < 30 * 24 * 3600 * 3 => plural(s / (7 * 24 * 3600), "week"),
        s if s < 365 * 24 * 3600 * 2 => plural(s / (30 * 24 * 3600), "month"),
        s => plural(s / (365 * 24 * 3600), "year"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageConfig;

    #[test]
    fn should_print_sizes_as_docker_does() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(187_400_000), "187MB");
        assert_eq!(human_size(5_612_000), "5.61MB");
        assert_eq!(human_size(12_300), "12.3kB");
        assert_eq!(human_size(2_000_000_000), "2GB");
    }

    #[test]
    fn should_render_one_row_per_tag() {
        let now = Utc::now();
        let image = Image {
            id: format!("sha256:{}", "ab".repeat(32)),
            repo_tags: vec![
                "docker.io/library/nginx:1".into(),
                "localhost:5000/x:latest".into(),
            ],
            digest: None,
            size: 5_612_000,
            created: Some(now - chrono::TimeDelta::days(3)),
            imported: now,
            rootfs: RootFilesystem::Unpacked,
            architecture: None,
            config: ImageConfig::default(),
            layers: vec![],
        };
        let table = render_image_table(&[image], now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "REPOSITORY         TAG      IMAGE ID       CREATED      SIZE"
        );
        assert_eq!(
            lines[1],
            "nginx              1        abababababab   3 days ago   5.61MB"
        );
        assert!(lines[2].starts_with("localhost:5000/x   latest"));
    }
}
