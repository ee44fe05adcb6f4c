//! Result files that survive a crash: a reader finds either the old file whole or the new one
//! whole, never a half-written one.

use std::io::Write;
use std::path::Path;

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
}
