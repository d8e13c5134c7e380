//! Container logs in the CRI format (`<RFC3339Nano> <stream> <P|F> <content>`, as
//! containerd's `cri/io/logger.go` writes them and kubelet's `kuberuntime/logs`
//! reads them): a copier per stdio stream, size-based rotation, and the reader
//! behind `kubectl logs` (tail, since, timestamps, limitBytes, follow).

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Errors from writing or reading container logs.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The log file could not be opened, written or rotated.
    #[error("failed to write the container log: {0}")]
    Write(io::Error),
    /// The log file could not be read.
    #[error("failed to read the container log: {0}")]
    Read(io::Error),
    /// The output (the client's connection) could not be written.
    #[error("failed to send the container log: {0}")]
    Send(io::Error),
}

/// The longest line stored as one entry; longer ones are split into partial (`P`)
/// entries, as containerd's `max_container_log_line_size` (16 KiB) does.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// How often `follow_logs` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Which of the container's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// Size-based rotation, kubelet's `containerLogMaxSize` / `containerLogMaxFiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogRotation {
    /// Rotate once the current file would grow past this.
    pub max_bytes: u64,
    /// Files kept, the current one included (`path`, `path.1`, … `path.{n-1}`).
    pub max_files: usize,
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation {
            max_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// One formatted CRI log entry, newline included.
pub fn format_entry(
    time: DateTime<Utc>,
    stream: LogStream,
    partial: bool,
    content: &[u8],
) -> Vec<u8> {
    let mut entry = Vec::with_capacity(content.len() + 48);
    entry.extend_from_slice(time.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
    entry.push(b' ');
    entry.extend_from_slice(stream.as_str().as_bytes());
    entry.extend_from_slice(if partial { b" P " } else { b" F " });
    entry.extend_from_slice(content);
    entry.push(b'\n');
    entry
}

/// Appends entries to a container's log file and rotates it by size. Shared by
/// the container's stdout and stderr copiers; one entry is one `write`.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: LogRotation,
}

impl LogWriter {
    /// Opens (appending to) the log at `path`, creating its directory.
    pub fn open(path: &Path, rotation: LogRotation) -> Result<LogWriter, LogsError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(LogsError::Write)?;
        }
        let file = open_append(path)?;
        let size = file.metadata().map_err(LogsError::Write)?.len();
        Ok(LogWriter {
            path: path.to_owned(),
            file,
            size,
            rotation,
        })
    }

    /// Writes one entry, rotating first if it would not fit.
    pub fn write_entry(
        &mut self,
        time: DateTime<Utc>,
        stream: LogStream,
        partial: bool,
        content: &[u8],
    ) -> Result<(), LogsError> {
        let entry = format_entry(time, stream, partial, content);
        if self.size > 0 && self.size + entry.len() as u64 > self.rotation.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(&entry).map_err(LogsError::Write)?;
        self.size += entry.len() as u64;
        Ok(())
    }

    /// `path.{n-2}` → `path.{n-1}`, …, `path` → `path.1`, then a fresh `path`.
    fn rotate(&mut self) -> Result<(), LogsError> {
        let keep = self.rotation.max_files.max(1);
        let _ = std::fs::remove_file(rotated_path(&self.path, keep - 1));
        for index in (1..keep.saturating_sub(1)).rev() {
            let _ = std::fs::rename(
                rotated_path(&self.path, index),
                rotated_path(&self.path, index + 1),
            );
        }
        if keep > 1 {
            std::fs::rename(&self.path, rotated_path(&self.path, 1)).map_err(LogsError::Write)?;
        } else {
            std::fs::remove_file(&self.path).map_err(LogsError::Write)?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File, LogsError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(LogsError::Write)
}

/// The name of the `index`-th rotated file (`0` is the current one).
pub fn rotated_path(path: &Path, index: usize) -> PathBuf {
    if index == 0 {
        return path.to_owned();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

/// Copies one stdio stream into the log until end of file: full lines as `F`
/// entries, over-long ones in `P` pieces, and a last unterminated line as `F`
/// (containerd's `redirectLogs`).
pub async fn copy_stream<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: LogStream,
    writer: Arc<Mutex<LogWriter>>,
) -> Result<(), LogsError> {
    let mut pending: Vec<u8> = Vec::with_capacity(MAX_LINE_BYTES);
    let mut chunk = vec![0u8; MAX_LINE_BYTES];
    loop {
        let read = reader.read(&mut chunk).await.map_err(LogsError::Read)?;
        if read == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..read]);
        let now = Utc::now();
        let mut writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|b| *b == b'\n') {
            let mut line = &pending[start..start + newline];
            while line.len() > MAX_LINE_BYTES {
                writer.write_entry(now, stream, true, &line[..MAX_LINE_BYTES])?;
                line = &line[MAX_LINE_BYTES..];
            }
            writer.write_entry(now, stream, false, line)?;
            start += newline + 1;
        }
        pending.drain(..start);
        while pending.len() >= MAX_LINE_BYTES {
            writer.write_entry(now, stream, true, &pending[..MAX_LINE_BYTES])?;
            pending.drain(..MAX_LINE_BYTES);
        }
    }
    if !pending.is_empty() {
        let mut writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.write_entry(Utc::now(), stream, false, &pending)?;
    }
    Ok(())
}

/// What `kubectl logs` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last N lines.
    pub tail_lines: Option<usize>,
    /// Only lines logged at or after this time (`sinceSeconds`, `sinceTime`).
    pub since: Option<DateTime<Utc>>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<usize>,
}

/// One parsed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriEntry<'a> {
    pub timestamp: &'a str,
    pub time: DateTime<Utc>,
    pub stream: LogStream,
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parses one line of a CRI log file (without its newline).
pub fn parse_entry(line: &[u8]) -> Option<CriEntry<'_>> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let timestamp = std::str::from_utf8(fields.next()?).ok()?;
    let stream = match fields.next()? {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        _ => return None,
    };
    let partial = match fields.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let content = fields.next().unwrap_or(b"");
    let time = DateTime::parse_from_rfc3339(timestamp)
        .ok()?
        .with_timezone(&Utc);
    Some(CriEntry {
        timestamp,
        time,
        stream,
        partial,
        content,
    })
}

/// Renders CRI log text as `kubectl logs` shows it. Pure: `log_text` is the
/// concatenation of the files, oldest first. Tail counts whole lines (a run of
/// `P` entries ended by an `F` one); malformed lines are skipped, as kubelet does.
pub fn render_logs(log_text: &[u8], options: &LogOptions) -> Vec<u8> {
    let entries: Vec<CriEntry<'_>> = log_text
        .split(|b| *b == b'\n')
        .filter_map(parse_entry)
        .filter(|entry| options.since.is_none_or(|since| entry.time >= since))
        .collect();
    let start = match options.tail_lines {
        None => 0,
        Some(tail) => {
            let mut full_lines = 0;
            let mut start = entries.len();
            for (index, entry) in entries.iter().enumerate().rev() {
                if !entry.partial {
                    if full_lines == tail {
                        break;
                    }
                    full_lines += 1;
                }
                start = index;
            }
            start
        }
    };
    let mut output = Vec::new();
    let mut at_line_start = true;
    for entry in &entries[start..] {
        append_entry(&mut output, entry, options.timestamps, &mut at_line_start);
    }
    if let Some(limit) = options.limit_bytes {
        output.truncate(limit);
    }
    output
}

fn append_entry(
    output: &mut Vec<u8>,
    entry: &CriEntry<'_>,
    timestamps: bool,
    at_line_start: &mut bool,
) {
    if timestamps && *at_line_start {
        output.extend_from_slice(entry.timestamp.as_bytes());
        output.push(b' ');
    }
    output.extend_from_slice(entry.content);
    if !entry.partial {
        output.push(b'\n');
    }
    *at_line_start = !entry.partial;
}

/// Reads a container's logs, rotated files included, and renders them.
pub fn read_logs(path: &Path, options: &LogOptions) -> Result<Vec<u8>, LogsError> {
    let (text, _) = read_all_files(path)?;
    Ok(render_logs(&text, options))
}

/// All log files oldest first, and the current file left open at its end.
fn read_all_files(path: &Path) -> Result<(Vec<u8>, Option<File>), LogsError> {
    let mut text = Vec::new();
    let mut rotated: Vec<PathBuf> = (1..)
        .map(|index| rotated_path(path, index))
        .take_while(|candidate| candidate.exists())
        .collect();
    rotated.reverse();
    for file in rotated {
        match File::open(&file) {
            Ok(mut file) => {
                file.read_to_end(&mut text).map_err(LogsError::Read)?;
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(LogsError::Read(error)),
        }
    }
    let current = match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut text).map_err(LogsError::Read)?;
            Some(file)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(LogsError::Read(error)),
    };
    Ok((text, current))
}

/// `kubectl logs -f`: writes what `read_logs` would, then new lines as they are
/// logged (across rotations), until `until_exited` completes and everything
/// written before has been sent. Complete `until_exited` when the container has
/// exited (its copiers have finished).
pub async fn follow_logs<W: AsyncWrite + Unpin>(
    path: &Path,
    options: &LogOptions,
    output: &mut W,
    until_exited: impl Future<Output = ()>,
) -> Result<(), LogsError> {
    let (text, mut current) = read_all_files(path)?;
    // Only whole entries count; a half-written one is read again next time.
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let first = render_logs(&text[..complete], options);
    let mut remaining = options
        .limit_bytes
        .map(|limit| limit.saturating_sub(first.len()));
    output.write_all(&first).await.map_err(LogsError::Send)?;
    output.flush().await.map_err(LogsError::Send)?;
    let mut pending: Vec<u8> = text[complete..].to_vec();
    let mut at_line_start = true;
    tokio::pin!(until_exited);
    let mut exited = false;
    loop {
        if remaining == Some(0) {
            return Ok(());
        }
        let mut grew = false;
        if let Some(file) = current.as_mut() {
            let before = pending.len();
            file.read_to_end(&mut pending).map_err(LogsError::Read)?;
            grew = pending.len() > before;
        }
        let complete = pending
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        if complete > 0 {
            let mut chunk = Vec::new();
            for entry in pending[..complete]
                .split(|b| *b == b'\n')
                .filter_map(parse_entry)
            {
                if options.since.is_none_or(|since| entry.time >= since) {
                    append_entry(&mut chunk, &entry, options.timestamps, &mut at_line_start);
                }
            }
            if let Some(left) = remaining.as_mut() {
                chunk.truncate(*left);
                *left -= chunk.len();
            }
            output.write_all(&chunk).await.map_err(LogsError::Send)?;
            output.flush().await.map_err(LogsError::Send)?;
            pending.drain(..complete);
        }
        if grew {
            continue;
        }
        // Rotated: the old file is drained, carry on with the new one.
        if reopen_if_rotated(path, &mut current)? {
            continue;
        }
        if exited {
            return Ok(());
        }
        tokio::select! {
            () = &mut until_exited => exited = true,
            () = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
}

/// Switches to a new file at `path` when it is not the one open (rotation, or a
/// log that did not exist yet). Returns whether it switched.
fn reopen_if_rotated(path: &Path, current: &mut Option<File>) -> Result<bool, LogsError> {
    let on_disk = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(LogsError::Read(error)),
    };
    if let Some(file) = current.as_ref() {
        let open = file.metadata().map_err(LogsError::Read)?;
        if open.ino() == on_disk.ino() && open.dev() == on_disk.dev() {
            return Ok(false);
        }
    }
    let mut file = File::open(path).map_err(LogsError::Read)?;
    file.seek(SeekFrom::Start(0)).map_err(LogsError::Read)?;
    *current = Some(file);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, second).unwrap()
    }

    #[test]
    fn should_format_entries_as_containerd_does() {
        let entry = format_entry(at(7), LogStream::Stdout, false, b"hello world");
        assert_eq!(
            entry,
            b"2024-05-01T12:00:07.000000000Z stdout F hello world\n"
        );
        let partial = format_entry(at(7), LogStream::Stderr, true, b"abc");
        assert_eq!(partial, b"2024-05-01T12:00:07.000000000Z stderr P abc\n");
    }

    fn sample() -> Vec<u8> {
        [
            format_entry(at(1), LogStream::Stdout, false, b"one"),
            format_entry(at(2), LogStream::Stderr, true, b"tw"),
            format_entry(at(2), LogStream::Stderr, false, b"o"),
            format_entry(at(3), LogStream::Stdout, false, b"three"),
            b"garbage line\n".to_vec(),
        ]
        .concat()
    }

    #[test]
    fn should_render_all_lines_joining_partial_entries() {
        assert_eq!(
            render_logs(&sample(), &LogOptions::default()),
            b"one\ntwo\nthree\n"
        );
    }

    #[test]
    fn should_tail_whole_lines() {
        let options = LogOptions {
            tail_lines: Some(2),
            ..LogOptions::default()
        };
        assert_eq!(render_logs(&sample(), &options), b"two\nthree\n");
        let none = LogOptions {
            tail_lines: Some(0),
            ..LogOptions::default()
        };
        assert_eq!(render_logs(&sample(), &none), b"");
    }

    #[test]
    fn should_filter_by_time_prefix_timestamps_and_limit_bytes() {
        let options = LogOptions {
            since: Some(at(3)),
            timestamps: true,
            ..LogOptions::default()
        };
        assert_eq!(
            render_logs(&sample(), &options),
            b"2024-05-01T12:00:03.000000000Z three\n"
        );
        let limited = LogOptions {
            limit_bytes: Some(6),
            ..LogOptions::default()
        };
        assert_eq!(render_logs(&sample(), &limited), b"one\ntw");
    }

    #[test]
    fn should_rotate_by_size_keeping_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let rotation = LogRotation {
            max_bytes: 100,
            max_files: 3,
        };
        let mut writer = LogWriter::open(&path, rotation).unwrap();
        for second in 0..10 {
            writer
                .write_entry(
                    at(second),
                    LogStream::Stdout,
                    false,
                    format!("line {second}").as_bytes(),
                )
                .unwrap();
        }
        assert!(rotated_path(&path, 2).exists());
        assert!(!rotated_path(&path, 3).exists());
        let all = read_logs(&path, &LogOptions::default()).unwrap();
        let text = String::from_utf8(all).unwrap();
        assert!(text.ends_with("line 8\nline 9\n"), "{text}");
        assert!(
            !text.contains("line 0\n"),
            "the oldest file was dropped: {text}"
        );
    }

    #[tokio::test]
    async fn should_copy_lines_splitting_long_ones_and_keeping_a_last_unterminated_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let writer = Arc::new(Mutex::new(
            LogWriter::open(&path, LogRotation::default()).unwrap(),
        ));
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let input = [b"hello\n".as_slice(), &long, b"\nbye"].concat();
        copy_stream(input.as_slice(), LogStream::Stderr, writer)
            .await
            .unwrap();
        let text = std::fs::read(&path).unwrap();
        let entries: Vec<CriEntry<'_>> = text
            .split(|b| *b == b'\n')
            .filter_map(parse_entry)
            .collect();
        let shape: Vec<(bool, usize)> = entries
            .iter()
            .map(|e| (e.partial, e.content.len()))
            .collect();
        assert_eq!(
            shape,
            [(false, 5), (true, MAX_LINE_BYTES), (false, 10), (false, 3)]
        );
        assert!(entries.iter().all(|e| e.stream == LogStream::Stderr));
    }

    #[tokio::test]
    async fn should_follow_new_lines_across_a_rotation_until_the_container_exits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let rotation = LogRotation {
            max_bytes: 60,
            max_files: 2,
        };
        let mut writer = LogWriter::open(&path, rotation).unwrap();
        writer
            .write_entry(at(0), LogStream::Stdout, false, b"first")
            .unwrap();
        let (exited_tx, exited_rx) = tokio::sync::oneshot::channel::<()>();
        let follower_path = path.clone();
        let follower = tokio::spawn(async move {
            let mut output = Vec::new();
            follow_logs(&follower_path, &LogOptions::default(), &mut output, async {
                let _ = exited_rx.await;
            })
            .await
            .unwrap();
            output
        });
        tokio::time::sleep(Duration::from_millis(250)).await;
        writer
            .write_entry(at(1), LogStream::Stdout, false, b"second")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        writer
            .write_entry(at(2), LogStream::Stdout, false, b"third")
            .unwrap();
        exited_tx.send(()).unwrap();
        let output = follower.await.unwrap();
        assert_eq!(output, b"first\nsecond\nthird\n");
    }
}
