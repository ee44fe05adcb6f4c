//! Result files: written so that they survive a crash (a reader finds either the old file whole
//! or the new one whole, never a half-written one, [`write_atomic`]); a result directory that
//! holds one run's files only ([`run_entries`], [`clear_run_entries`]); and directories one
//! process at a time works in ([`DirLock`]).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically: writes a temporary file in the same directory, syncs
/// it to disk, renames it over `path`, then (on unix) syncs the directory so the rename itself
/// survives a power cut. The directory must exist. On error the temporary file is removed and
/// `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // The same directory: a rename across file systems would not be atomic. The process id and
    // a counter keep concurrent writers of one file (or of files with one name) apart.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = write_and_rename(&tmp, path, bytes);
    if result.is_err() {
        // Err: the temporary file was never created, or is gone already.
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

fn write_and_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(tmp, path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Windows cannot open a directory as a file; its renames are journaled by NTFS.
    Ok(())
}

/// The files a run writes in its result directory: a scale test's summary, JUnit report and
/// recording, and the metrics report (`report.md`, `metrics-summary.json`; `report` writes
/// those two alone). Charts (`*.svg`) and [`write_atomic`]'s temporary files go with them.
pub const RUN_FILES: [&str; 5] = [
    "summary.json",
    "junit.xml",
    "recording.jsonl",
    "report.md",
    "metrics-summary.json",
];

/// The subdirectories a run writes in its result directory: the embedded hub's (`hub`) and a
/// fleet's hubs' (`hubs`, each a result directory of its own).
pub const RUN_DIRS: [&str; 2] = ["hub", "hubs"];

/// Whether `name`, an entry of a result directory, is one a run writes.
fn is_run_entry(name: &str, is_dir: bool) -> bool {
    if is_dir {
        return RUN_DIRS.contains(&name);
    }
    // `.summary.json.PID.N.tmp`: left by a write_atomic cut short by a crash.
    let temporary = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|n| RUN_FILES.iter().any(|f| n.starts_with(&format!("{f}."))));
    RUN_FILES.contains(&name) || name.ends_with(".svg") || temporary
}

/// The entries of `dir` a run writes ([`RUN_FILES`], charts, [`RUN_DIRS`]), sorted; none when
/// `dir` does not exist. Whatever else is there is not listed.
///
/// # Errors
///
/// `dir` exists but cannot be read.
pub fn run_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in read {
        let entry = entry?;
        // A symbolic link is judged as itself, never followed: clearing removes the link only.
        let is_dir = entry.file_type()?.is_dir();
        if is_run_entry(&entry.file_name().to_string_lossy(), is_dir) {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Removes what [`run_entries`] lists in `dir` (subdirectories with their contents), except the
/// paths in `keep` (an input about to be read, such as the recording `report` reads), and
/// nothing else. Returns what it removed.
///
/// # Errors
///
/// An entry that cannot be removed; those before it are gone.
pub fn clear_run_entries(dir: &Path, keep: &[&Path]) -> std::io::Result<Vec<PathBuf>> {
    let keep: Vec<PathBuf> = keep
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut removed = Vec::new();
    for path in run_entries(dir)? {
        if std::fs::canonicalize(&path).is_ok_and(|p| keep.contains(&p)) {
            continue;
        }
        if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        removed.push(path);
    }
    Ok(removed)
}

/// An advisory lock on a directory, held while this value lives: one process at a time works in
/// it (a hub serving it, a run writing its results). The operating system releases it when the
/// process ends, however it ends, so a killed process leaves no stale lock; the lock file stays,
/// holding the last holder's process id.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    // Held for its lock; closing it releases the lock.
    _file: std::fs::File,
}

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    #[error("{} is in use by another process{}", dir.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Held {
        /// The directory.
        dir: PathBuf,
        /// The holder's process id, as it wrote it in the lock file.
        pid: Option<u32>,
    },
    /// The directory or its lock file could not be created or locked.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file (or the directory).
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

impl DirLock {
    /// Locks `dir` through its lock file `name` (both created if missing) and writes this
    /// process's id into the file, for whoever finds it held.
    ///
    /// # Errors
    ///
    /// [`LockError::Held`] while another process holds it; [`LockError::Io`] when the directory
    /// or the file cannot be created or locked.
    ///
    /// # Examples
    ///
    /// ```
    /// use hive_scale_core::files::{DirLock, LockError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let held = DirLock::acquire(dir.path(), "hub.lock")?;
    /// assert!(matches!(
    ///     DirLock::acquire(dir.path(), "hub.lock"),
    ///     Err(LockError::Held { .. })
    /// ));
    /// drop(held);
    /// DirLock::acquire(dir.path(), "hub.lock")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acquire(dir: &Path, name: &str) -> Result<Self, LockError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(name);
        // Not truncated on open: until it is ours, the file holds the holder's pid.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(io(&path))?;
        Ok(Self { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_content_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("summary.json");
        write_atomic(&f, b"a much longer first version\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "a much longer first version\n"
        );
        write_atomic(&f, b"short\n").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "short\n");
        write_atomic(&f, b"").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"");
        assert_eq!(entries(dir.path()), ["summary.json"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("missing/report.md");
        let e = write_atomic(&f, b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_rename_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should go: the rename fails after the write succeeded.
        let target = dir.path().join("report.md");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "old").unwrap();
        assert!(write_atomic(&target, b"new").is_err());
        assert_eq!(std::fs::read_to_string(target.join("keep")).unwrap(), "old");
        assert_eq!(entries(dir.path()), ["report.md"]);
        assert!(write_atomic(Path::new("/"), b"x").is_err(), "no file name");
    }

    #[test]
    fn a_result_directory_lists_and_clears_only_what_a_run_writes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(run_entries(&dir.path().join("missing")).unwrap().is_empty());
        for f in [
            "summary.json",
            "report.md",
            "recording.jsonl",
            "workqueue_depth.svg",
            ".summary.json.123.0.tmp",
            "notes.txt",
            ".hidden",
            "summary.json.bak",
        ] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        for d in ["hub", "hubs/east", "mine"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("hubs/east/summary.json"), "x").unwrap();
        let names = |paths: Vec<PathBuf>| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(run_entries(dir.path()).unwrap()),
            [
                ".summary.json.123.0.tmp",
                "hub",
                "hubs",
                "recording.jsonl",
                "report.md",
                "summary.json",
                "workqueue_depth.svg"
            ]
        );
        // The recording about to be read is kept.
        let recording = dir.path().join("recording.jsonl");
        let removed = clear_run_entries(dir.path(), &[&recording]).unwrap();
        assert_eq!(removed.len(), 6);
        assert_eq!(
            entries(dir.path()),
            [
                ".hidden",
                "mine",
                "notes.txt",
                "recording.jsonl",
                "summary.json.bak"
            ]
        );
    }

    #[test]
    fn a_directory_is_locked_by_one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("hub");
        let first = DirLock::acquire(&d, "hub.lock").unwrap();
        assert_eq!(
            std::fs::read_to_string(first.path()).unwrap(),
            format!("{}\n", std::process::id())
        );
        match DirLock::acquire(&d, "hub.lock") {
            Err(e @ LockError::Held { .. }) => {
                let LockError::Held { pid, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(*pid, Some(std::process::id()));
                assert!(e.to_string().ends_with(&format!(
                    "hub is in use by another process (pid {})",
                    std::process::id()
                )));
            }
            other => panic!("{other:?}"),
        }
        // A different lock file is a different lock.
        DirLock::acquire(&d, "other.lock").unwrap();
        drop(first);
        DirLock::acquire(&d, "hub.lock").unwrap();
        let e = DirLock::acquire(&d.join("hub.lock"), "x").unwrap_err();
        assert!(matches!(e, LockError::Io { .. }), "{e}");
    }
}
