//! Local files only their owner can read, that no one else can redirect: every file s3central
//! writes (journals, reports, manifests, inventory spills) is created through here.
//!
//! Threat (T3 in docs/security.md): another user of a shared runner. They may plant a symlink
//! where a file is about to be created (so the write truncates or fills a file of their
//! choosing), read what is written (every account's keys), or write a journal line that makes a
//! restore skip a key. So: files are created mode 0600 and folders 0700; the last component of
//! a path is never followed if it is a symlink (`O_NOFOLLOW`); a file or folder owned by someone
//! else, or one that others may write, is refused.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Permission bits of the files s3central creates.
pub const FILE_MODE: u32 = 0o600;
/// Permission bits of the folders s3central creates.
pub const DIR_MODE: u32 = 0o700;

/// How an existing file is opened for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Emptied first (a report, a manifest).
    Truncate,
    /// Appended to (a journal).
    Append,
}

/// Opens `path` for writing, creating it 0600; refuses a symlink, a file that is not a regular
/// file, one owned by another user, and (tightening it instead when it is the caller's own) one
/// that others could read or write.
pub fn create(path: &Path, how: Write) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    match how {
        Write::Truncate => options.write(true),
        Write::Append => options.append(true),
    };
    // Not truncated by open(2): the owner is checked first, so another user's file is refused
    // untouched.
    let file = options.open(path).map_err(|e| nofollow_error(path, e))?;
    check_owned_regular(path, &file)?;
    if how == Write::Truncate {
        file.set_len(0)?;
    }
    Ok(file)
}

/// Opens an existing file for reading with the same checks as [`create`]; `Ok(None)` when it
/// does not exist.
pub fn open_existing(path: &Path) -> io::Result<Option<File>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(nofollow_error(path, e)),
    };
    check_owned_regular(path, &file)?;
    Ok(Some(file))
}

/// Creates `dir` and its missing parents 0700; refuses a `dir` that is a symlink, is owned by
/// another user, or that others may write (they could swap the files in it).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(refused(dir, "is a symbolic link or not a folder"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(refused(dir, "is owned by another user"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refused(dir, "may be written by other users"));
    }
    Ok(())
}

/// A new folder under the system's temporary folder, 0700 (tempfile's default is the umask's
/// 0755), removed when dropped.
pub fn private_temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(DIR_MODE))
        .tempdir()
}

/// The file must be a regular file of this user; its mode is narrowed to 0600 when wider.
fn check_owned_regular(path: &Path, file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(path, "is not a regular file"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(refused(path, "is owned by another user"));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

/// `open(2)` with `O_NOFOLLOW` fails with ELOOP on a symlink: say so in words.
fn nofollow_error(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        refused(path, "is a symbolic link")
    } else {
        e
    }
}

/// An error that says why a path was refused.
fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "refusing {}: it {why} (another user could read or redirect it)",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write as _};

    #[test]
    fn files_are_created_private_and_folders_too() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        private_dir(&dir).unwrap();
        for d in [tmp.path().join("a"), dir.clone()] {
            assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, DIR_MODE);
        }
        let path = dir.join("f");
        create(&path, Write::Append)
            .unwrap()
            .write_all(b"one\n")
            .unwrap();
        create(&path, Write::Append)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, FILE_MODE);
        let mut text = String::new();
        open_existing(&path)
            .unwrap()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "one\ntwo\n");
        create(&path, Write::Truncate)
            .unwrap()
            .write_all(b"3")
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"3");
        assert!(open_existing(&dir.join("none")).unwrap().is_none());
    }

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        let planted = tmp.path().join("report.jsonl");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        for how in [Write::Truncate, Write::Append] {
            let e = create(&planted, how).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        assert!(open_existing(&planted).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        let linked_dir = tmp.path().join("linked");
        std::os::unix::fs::symlink(tmp.path(), &linked_dir).unwrap();
        assert!(private_dir(&linked_dir).is_err());
    }

    /// Needs root to give a file away (CI and these machines run as root); as another user the
    /// chown fails and the test says so instead of passing silently.
    #[test]
    fn another_users_file_is_refused_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("journal.tsv");
        std::fs::write(&path, b"copied\tplanted\n").unwrap();
        if let Err(e) = std::os::unix::fs::chown(&path, Some(65534), Some(65534)) {
            panic!("run this test as root (it gives a file to uid 65534): {e}");
        }
        for how in [Write::Truncate, Write::Append] {
            let e = create(&path, how).unwrap_err();
            assert!(e.to_string().contains("owned by another user"), "{e}");
        }
        assert!(open_existing(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"copied\tplanted\n");
    }

    #[test]
    fn wide_modes_are_narrowed_and_shared_folders_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old-journal");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        create(&path, Write::Append).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, FILE_MODE);
        let temp = private_temp_dir("s3central-test-").unwrap();
        assert_eq!(
            std::fs::metadata(temp.path()).unwrap().mode() & 0o777,
            DIR_MODE
        );
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&shared).unwrap_err();
        assert!(e.to_string().contains("written by other users"), "{e}");
    }
}
