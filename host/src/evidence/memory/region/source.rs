//! [`Region`], the public description of an attested byte range, and
//! [`RegionSource`], a way to read its bytes at any offset.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use serde::{Deserialize, Serialize};

use super::error::RegionError;
use super::id::RegionId;
use super::protection::Protection;

/// The public description of an attested byte range.
///
/// Guarantees (for values built by the sources in this module): `size` is the
/// exact number of bytes the snapshot digest covers, and `address` is where
/// they start (a virtual address for [`ProcessRegion`], a file offset for
/// [`FileRange`], the caller's choice, 0 by default, for [`InMemory`]).
/// Deserializing rejects unknown fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The region's name within its report.
    pub id: RegionId,
    /// Free text for people: what this region is.
    pub description: String,
    /// Where the bytes start.
    pub address: u64,
    /// How many bytes.
    pub size: u64,
    /// The access rights the region had when it was opened.
    pub protection: Protection,
}

/// A region whose bytes can be read at any offset, from any thread.
///
/// Implementations guarantee that [`RegionSource::read_at`] either fills the
/// whole buffer with the bytes at `offset..offset + buf.len()` of the region
/// or returns an error: never a short or padded read.
pub trait RegionSource: Sync {
    /// The region's public description; its `size` is the number of bytes.
    fn region(&self) -> &Region;

    /// The number of bytes in the region (its `size`).
    fn len(&self) -> u64 {
        self.region().size
    }

    /// Whether the region has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `buf` with the bytes at `offset..offset + buf.len()`; an error if
    /// that range is not within `0..len()` or cannot be read in full.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), RegionError>;

    /// After all reads: an error if the source detectably changed since it
    /// was opened (so the reads may be inconsistent). Sources that cannot
    /// tell return `Ok`.
    fn check_unchanged(&self) -> Result<(), RegionError> {
        Ok(())
    }
}

/// The end of `offset..offset + len` if it lies within `region`.
pub(super) fn check_bounds(region: &Region, offset: u64, len: usize) -> Result<u64, RegionError> {
    let len = len as u64;
    offset
        .checked_add(len)
        .filter(|end| *end <= region.size)
        .ok_or_else(|| RegionError::OutOfBounds {
            region: region.id.clone(),
            offset,
            len,
            size: region.size,
        })
}

/// How a positioned read of a whole buffer ended badly.
pub(super) enum ReadFailure {
    /// End of file at this position.
    Eof(u64),
    /// The OS failed the read at this position.
    Io(u64, io::Error),
}

/// Fill `buf` from `file` at `pos`, retrying short and interrupted reads.
pub(super) fn read_full(file: &File, mut pos: u64, mut buf: &mut [u8]) -> Result<(), ReadFailure> {
    while !buf.is_empty() {
        match file.read_at(buf, pos) {
            Ok(0) => return Err(ReadFailure::Eof(pos)),
            Ok(n) => {
                buf = &mut buf[n..];
                pos = pos.saturating_add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadFailure::Io(pos, e)),
        }
    }
    Ok(())
}
