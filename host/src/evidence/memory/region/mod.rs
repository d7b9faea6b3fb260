//! Where the bytes of a memory-region report come from.
//!
//! A [`Region`] is the public description of a byte range that a report
//! attests to: its id, a human description, the address it lives at, its size
//! and its protection. A [`RegionSource`] couples a `Region` with a way to read
//! its bytes at arbitrary offsets, so that [`super::snapshot::digest_source`]
//! can hash it chunk by chunk on several threads without ever holding the
//! whole region in memory.
//!
//! Three sources exist:
//!
//! * [`InMemory`]: a byte vector the caller already holds.
//! * [`FileRange`]: `length` bytes of a regular file starting at `offset`
//!   (for example a model weights file). The region's address is the file
//!   offset and its protection `r--`. Reads that hit end-of-file, and a file
//!   whose size or modification time changed between opening and the end of
//!   hashing, are errors, never silently short or torn data.
//! * [`ProcessRegion`]: a range of another process's (or this process's)
//!   virtual memory, located through `/proc/<pid>/maps` and read through
//!   `/proc/<pid>/mem` with positioned reads (no `unsafe`, no
//!   `process_vm_readv`). This needs ptrace access to the target: the same
//!   user with a permissive `kernel.yama.ptrace_scope`, or `CAP_SYS_PTRACE`
//!   (root). The range must lie inside one mapping or inside a run of
//!   *adjacent* mappings (each starting exactly where the previous one ends)
//!   that all have the same protection, which becomes the region's
//!   protection; gaps and mixed protections are errors. The process is not
//!   stopped while it is read, so a region it writes to concurrently may be
//!   hashed in an inconsistent state: attest read-only mappings.

//!
//! One module per concern: [`RegionId`] and [`Protection`] name a region,
//! [`Region`] and [`RegionSource`] describe and read one, [`RegionError`]
//! says why that failed, and each source has its own module.

mod error;
mod file;
mod id;
mod memory;
mod process;
mod protection;
mod source;

#[cfg(test)]
mod tests;

pub use error::RegionError;
pub use file::FileRange;
pub use id::{RegionId, RegionIdError};
pub use memory::InMemory;
pub use process::{Mapping, ProcessRegion, read_maps};
pub use protection::{Protection, ProtectionError};
pub use source::{Region, RegionSource};
