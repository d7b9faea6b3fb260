//! [`InMemory`]: a region whose bytes the caller already holds.

use super::error::RegionError;
use super::id::RegionId;
use super::protection::Protection;
use super::source::{Region, RegionSource, check_bounds};

/// A region held in memory.
///
/// Guarantees: the region's size is the vector's length and reads return
/// its bytes.
#[derive(Debug, Clone)]
pub struct InMemory {
    region: Region,
    bytes: Vec<u8>,
}

impl InMemory {
    /// A region of `bytes` at address 0 with the given protection.
    pub fn new(
        id: RegionId,
        description: impl Into<String>,
        bytes: Vec<u8>,
        protection: Protection,
    ) -> Self {
        let size = bytes.len() as u64;
        let region = Region {
            id,
            description: description.into(),
            address: 0,
            size,
            protection,
        };
        Self { region, bytes }
    }

    /// The same region, reported at `address`.
    pub fn with_address(mut self, address: u64) -> Self {
        self.region.address = address;
        self
    }

    /// The region's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl RegionSource for InMemory {
    fn region(&self) -> &Region {
        &self.region
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), RegionError> {
        let end = check_bounds(&self.region, offset, buf.len())?;
        let source = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(start, end)| self.bytes.get(start..end));
        let out_of_bounds = || RegionError::OutOfBounds {
            region: self.region.id.clone(),
            offset,
            len: buf.len() as u64,
            size: self.region.size,
        };
        buf.copy_from_slice(source.ok_or_else(out_of_bounds)?);
        Ok(())
    }
}
