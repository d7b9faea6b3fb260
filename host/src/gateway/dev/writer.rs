//! Creating the dev setup's files and directories, never overwriting, and
//! removing them again if the setup cannot be completed.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::DevError;

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Mode 0644 (less the umask): certificates, public keys, policies, config.
    Public,
    /// Mode 0600 on Unix, set at creation: private keys.
    Private,
}

/// Records what it created, so that a failed setup can be undone.
#[derive(Debug, Default)]
pub(super) struct Writer {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Writer {
    /// Creates directory `path`, whose parent exists.
    pub(super) fn dir(&mut self, path: PathBuf) -> Result<(), DevError> {
        fs::create_dir(&path).map_err(|source| DevError::CreateDir {
            dir: path.clone(),
            source,
        })?;
        self.dirs.push(path);
        Ok(())
    }

    /// Creates file `path` holding `contents`; fails if it exists.
    pub(super) fn file(
        &mut self,
        path: PathBuf,
        access: Access,
        contents: &[u8],
    ) -> Result<(), DevError> {
        let failed = |source| DevError::Write {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(match access {
                Access::Public => 0o644,
                Access::Private => 0o600,
            });
        }
        #[cfg(not(unix))]
        let _ = access;
        let mut file = options.open(&path).map_err(failed)?;
        // Recorded before writing, so a half-written file is removed too.
        self.files.push(path.clone());
        file.write_all(contents).map_err(failed)
    }

    /// What was created: files and directories, in order.
    pub(super) fn finish(self) -> Vec<PathBuf> {
        let mut created = self.dirs;
        created.extend(self.files);
        created
    }

    /// Removes everything created, best effort.
    pub(super) fn roll_back(self) {
        for file in self.files.iter().rev() {
            let _ = fs::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// What [`survey`] found at the setup path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A directory with a `verdict.toml` in it (of whatever kind).
    Setup,
    /// An empty directory.
    Empty,
    /// Nothing.
    Missing,
}

/// Looks at `dir` without changing anything: a setup, an empty directory or
/// nothing at all; anything else is an error.
pub(super) fn survey(dir: &Path, config: &Path) -> Result<Found, DevError> {
    let inspect = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DevError::Inspect { path, source }
    };
    match fs::metadata(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(source) => return Err(inspect(dir)(source)),
        Ok(meta) if !meta.is_dir() => {
            return Err(DevError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        Ok(_) => {}
    }
    if config.try_exists().map_err(inspect(config))? {
        return Ok(Found::Setup);
    }
    match fs::read_dir(dir).map_err(inspect(dir))?.next() {
        None => Ok(Found::Empty),
        Some(entry) => Err(DevError::DirectoryNotEmpty {
            dir: dir.to_path_buf(),
            entry: entry.map_err(inspect(dir))?.file_name().into(),
        }),
    }
}

/// Creates `dir` and its missing parents.
pub(super) fn create_dir_all(dir: &Path) -> Result<(), DevError> {
    fs::create_dir_all(dir).map_err(|source| DevError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })
}
