//! [`FileRange`]: a byte range of a regular file, refused if the file
//! changes while it is hashed.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::RegionError;
use super::id::RegionId;
use super::protection::Protection;
use super::source::{ReadFailure, Region, RegionSource, check_bounds, read_full};

/// What a file looked like when it was opened, to detect changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    size: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(metadata: &fs::Metadata) -> Self {
        Self {
            size: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// A byte range of a regular file.
///
/// Guarantees: at opening the range lay within the file; the region's
/// address is the range's file offset and its protection `r--`; a read that
/// meets end-of-file fails with [`RegionError::FileShrank`], and
/// [`RegionSource::check_unchanged`] fails with [`RegionError::FileChanged`]
/// if the open file's size or modification time differ from opening time.
#[derive(Debug)]
pub struct FileRange {
    region: Region,
    path: PathBuf,
    file: File,
    opened: FileStamp,
}

impl FileRange {
    /// Open `length` bytes of the regular file at `path` starting at byte
    /// `offset`; `None` means the rest of the file. An error names the path,
    /// the file's size and the requested range if it does not fit.
    pub fn open(
        path: impl AsRef<Path>,
        offset: u64,
        length: Option<u64>,
        id: RegionId,
        description: impl Into<String>,
    ) -> Result<Self, RegionError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| RegionError::FileOpen {
            path: path.clone(),
            source,
        })?;
        let metadata = file.metadata().map_err(|source| RegionError::FileOpen {
            path: path.clone(),
            source,
        })?;
        if !metadata.is_file() {
            return Err(RegionError::NotAFile { path });
        }
        let file_size = metadata.len();
        let size =
            Self::fit(file_size, offset, length).ok_or_else(|| RegionError::BeyondEndOfFile {
                path: path.clone(),
                file_size,
                offset,
                length,
            })?;
        let region = Region {
            id,
            description: description.into(),
            address: offset,
            size,
            protection: Protection::READ_ONLY,
        };
        Ok(Self {
            region,
            path,
            file,
            opened: FileStamp::of(&metadata),
        })
    }

    /// The size of the range if `offset` (+ `length`) lies within `file_size`.
    fn fit(file_size: u64, offset: u64, length: Option<u64>) -> Option<u64> {
        let rest = file_size.checked_sub(offset)?;
        match length {
            None => Some(rest),
            Some(length) => (length <= rest).then_some(length),
        }
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl RegionSource for FileRange {
    fn region(&self) -> &Region {
        &self.region
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), RegionError> {
        check_bounds(&self.region, offset, buf.len())?;
        // Cannot overflow: the range lay within a file of u64 size.
        let start = self.region.address.saturating_add(offset);
        let path = || self.path.clone();
        read_full(&self.file, start, buf).map_err(|failure| match failure {
            ReadFailure::Eof(at) => RegionError::FileShrank {
                path: path(),
                offset: at,
                expected_end: self.region.address.saturating_add(self.region.size),
            },
            ReadFailure::Io(at, source) => RegionError::FileRead {
                path: path(),
                offset: at,
                source,
            },
        })
    }

    fn check_unchanged(&self) -> Result<(), RegionError> {
        let metadata = self
            .file
            .metadata()
            .map_err(|source| RegionError::FileOpen {
                path: self.path.clone(),
                source,
            })?;
        let now = FileStamp::of(&metadata);
        if now != self.opened {
            return Err(RegionError::FileChanged {
                path: self.path.clone(),
                opened_size: self.opened.size,
                now_size: now.size,
            });
        }
        Ok(())
    }
}
