//! The files an audit log keeps beside its journal, made private and replaced atomically.
//!
//! - New journals, checkpoints and snapshots are created with mode 0600 (owner only):
//!   they hold personal data and the history of who may do what. A file that exists
//!   keeps the mode its owner gave it.
//! - A file is replaced by writing a temporary file next to it — a fresh random name,
//!   created exclusively (`O_CREAT | O_EXCL`) and never through a symbolic link
//!   (`O_NOFOLLOW`), so a planted link cannot redirect the write — syncing it, renaming it
//!   over the old one and syncing the directory, so a crash leaves the old file or the new
//!   one, never a mix or neither.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Owner read and write only.
const PRIVATE: u32 = 0o600;

/// `path` with `ext` appended (`access.journal` + `.checkpoint`).
pub fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

/// The directory holding `path`.
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Syncs the directory holding `path`, so a rename or creation in it is durable.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(dir_of(path))?.sync_all()
}

/// Opens `path` for reading and appending, creating it private if it does not exist;
/// never follows a symbolic link at `path` itself.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(PRIVATE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens `path` for reading and writing in place, creating it private if it does not
/// exist (the checkpoint's slots).
pub fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// A new private temporary file beside `path`, with a name nobody can predict:
/// `<path>.<16 hex>.tmp`.
pub fn temp_beside(path: &Path) -> std::io::Result<(PathBuf, File)> {
    for _ in 0..8 {
        let tag = hex::encode(super::random::bytes(8)?);
        let tmp = sidecar(path, &format!(".{tag}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PRIVATE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "cannot create a temporary file beside {}",
        path.display()
    )))
}

/// Replaces `path` with `contents`, atomically and durably (see the module docs). The
/// new file keeps the mode of the one it replaces (private when there is none). The
/// temporary file is removed if anything fails.
pub fn replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let (tmp, mut f) = temp_beside(path)?;
    let mode = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Some(m.permissions()),
        _ => None,
    };
    let written = mode
        .map_or(Ok(()), |m| f.set_permissions(m))
        .and_then(|()| f.write_all(contents))
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| sync_dir(path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes `path` if it exists and syncs its directory.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes temporary files a crash left beside `path` (`<path>.<hex>.tmp` and the
/// older fixed names), which may hold personal data an erasure has since removed.
pub fn remove_leftovers(path: &Path) -> std::io::Result<()> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let dir = dir_of(path);
    let mut removed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(other) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some(rest) = other.strip_prefix(name) else {
            continue;
        };
        let leftover = rest
            .strip_suffix(".tmp")
            .and_then(|r| r.rsplit_once('.'))
            .is_some_and(|(_, tag)| tag.len() == 16 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
            || rest == ".rewrite"
            || rest == ".checkpoint.tmp";
        if leftover && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed = true;
        }
    }
    if removed {
        sync_dir(path)?;
    }
    Ok(())
}

/// Bytes `[start, end)` of the file.
pub fn read_at(mut file: &File, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(end.saturating_sub(start)).unwrap_or(0));
    Read::by_ref(&mut file)
        .take(end.saturating_sub(start))
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// Line 1 without its newline, or `None` when it is incomplete.
pub fn read_header_line(mut file: &File) -> std::io::Result<Option<Vec<u8>>> {
    file.seek(SeekFrom::Start(0))?;
    let mut line = Vec::new();
    BufReader::new(Read::by_ref(&mut file)).read_until(b'\n', &mut line)?;
    Ok(line.pop().filter(|&b| b == b'\n').map(|_| line))
}

/// A private temporary folder for unit tests, removed with all it holds when dropped.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct TestDir(PathBuf);

#[cfg(test)]
impl TestDir {
    /// A new empty folder, `tag` and this process's id in its name.
    pub(crate) fn new(tag: &str) -> std::io::Result<Self> {
        let d = std::env::temp_dir().join(format!("accessgraph-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)?;
        Ok(TestDir(d))
    }
}

#[cfg(test)]
impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(tag: &str) -> std::io::Result<TestDir> {
        TestDir::new(&format!("files-{tag}"))
    }

    #[test]
    fn new_files_are_private_and_replacement_leaves_no_temp() -> std::io::Result<()> {
        let d = dir("private")?;
        let p = d.join("j");
        drop(open_append(&p)?);
        assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
        replace(&p, b"new\n")?;
        assert_eq!(std::fs::read(&p)?, b"new\n");
        assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
        // A mode its owner gave the file survives a replacement.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640))?;
        replace(&p, b"newer\n")?;
        assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(&d)?.count(), 1);
        Ok(())
    }

    #[test]
    fn a_planted_link_is_not_followed() -> std::io::Result<()> {
        let d = dir("link")?;
        let target = d.join("victim");
        std::fs::write(&target, b"keep")?;
        let p = d.join("j");
        std::os::unix::fs::symlink(&target, &p)?;
        assert!(open_append(&p).is_err());
        assert_eq!(std::fs::read(&target)?, b"keep");
        Ok(())
    }

    #[test]
    fn leftovers_go() -> std::io::Result<()> {
        let d = dir("leftovers")?;
        let p = d.join("j");
        std::fs::write(&p, b"x")?;
        std::fs::write(sidecar(&p, ".0123456789abcdef.tmp"), b"secret")?;
        std::fs::write(sidecar(&p, ".rewrite"), b"secret")?;
        std::fs::write(d.join("other.tmp"), b"not ours")?;
        remove_leftovers(&p)?;
        let mut names: Vec<String> = std::fs::read_dir(&d)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        assert_eq!(names, ["j", "other.tmp"]);
        Ok(())
    }
}
