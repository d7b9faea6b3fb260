//! [`RegionError`]: why a region could not be opened or read.

use std::io;
use std::path::PathBuf;

use super::id::RegionId;
use super::protection::Protection;

/// Why a region could not be opened or read. Each variant names the path,
/// pid, address or offset involved.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// A read asked for bytes outside `0..size` of the region.
    #[error("read of {len} bytes at offset {offset} is outside region `{region}` of {size} bytes")]
    OutOfBounds {
        region: RegionId,
        offset: u64,
        len: u64,
        size: u64,
    },
    /// The region has more chunks than this platform can index.
    #[error("region `{region}` of {size} bytes is too large to hash on this platform")]
    TooLarge { region: RegionId, size: u64 },
    /// The file could not be opened or stat'ed.
    #[error("cannot open or stat `{}`: {source}", path.display())]
    FileOpen { path: PathBuf, source: io::Error },
    /// The path names something other than a regular file.
    #[error("`{}` is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    /// The requested range does not lie within the file.
    #[error(
        "range of `{}` starting at offset {offset} with length {} lies beyond its end ({file_size} bytes)",
        path.display(),
        length.map_or_else(|| "<rest of file>".to_string(), |l| l.to_string())
    )]
    BeyondEndOfFile {
        path: PathBuf,
        file_size: u64,
        offset: u64,
        length: Option<u64>,
    },
    /// The operating system failed a read of the file.
    #[error("reading `{}` at file offset {offset}: {source}", path.display())]
    FileRead {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },
    /// The file ended before the region did: it was truncated after opening.
    #[error("`{}` shrank while being read: end of file at offset {offset}, region ends at {expected_end}", path.display())]
    FileShrank {
        path: PathBuf,
        offset: u64,
        expected_end: u64,
    },
    /// The file's size or modification time differs from when it was opened,
    /// so the hashed bytes may mix old and new content.
    #[error("`{}` changed while being hashed (size {opened_size} -> {now_size}, or modification time changed)", path.display())]
    FileChanged {
        path: PathBuf,
        opened_size: u64,
        now_size: u64,
    },
    /// There is no process with this pid (or it exited).
    #[error("no process with pid {pid}")]
    NoSuchProcess { pid: u32 },
    /// The kernel refused access to the process's memory or maps.
    #[error(
        "permission denied opening `{}`: reading another process's memory needs ptrace access to pid {pid} \
         (same user and a permissive kernel.yama.ptrace_scope, or CAP_SYS_PTRACE): {source}",
        path.display()
    )]
    PermissionDenied {
        pid: u32,
        path: PathBuf,
        source: io::Error,
    },
    /// Some other failure opening or reading a `/proc/<pid>` file.
    #[error("cannot read `{}` of pid {pid}: {source}", path.display())]
    ProcRead {
        pid: u32,
        path: PathBuf,
        source: io::Error,
    },
    /// A line of `/proc/<pid>/maps` did not have the expected format.
    #[error("/proc/{pid}/maps line {line}: {reason}")]
    MapsSyntax {
        pid: u32,
        line: usize,
        reason: String,
    },
    /// No mapping of the process contains the address.
    #[error("address {address:#x} is not mapped in pid {pid}")]
    AddressNotMapped { pid: u32, address: u64 },
    /// `address + size` does not fit in 64 bits.
    #[error("range at {address:#x} of {size} bytes in pid {pid} overflows the address space")]
    AddressOverflow { pid: u32, address: u64, size: u64 },
    /// The range runs past its mappings into unmapped memory.
    #[error(
        "range {address:#x}+{size} of pid {pid} is not mapped contiguously: nothing is mapped at {gap:#x}"
    )]
    RangeNotMapped {
        pid: u32,
        address: u64,
        size: u64,
        gap: u64,
    },
    /// The range spans adjacent mappings whose protections differ.
    #[error(
        "range {address:#x}+{size} of pid {pid} spans mappings with different protections: \
         {first} at {address:#x}, {other} at {other_start:#x}"
    )]
    MixedProtection {
        pid: u32,
        address: u64,
        size: u64,
        first: Protection,
        other: Protection,
        other_start: u64,
    },
    /// The kernel failed the read of the process's memory (for example a
    /// guard page, an I/O mapping, or a mapping removed since opening).
    #[error("reading {len} bytes at address {address:#x} of pid {pid} failed: {source}")]
    Unreadable {
        pid: u32,
        address: u64,
        len: u64,
        source: io::Error,
    },
    /// The process's memory returned no data: it exited after opening.
    #[error("pid {pid} returned no memory at address {address:#x}: the process exited")]
    ProcessGone { pid: u32, address: u64 },
    /// No mapping's pathname contains the searched text.
    #[error("pid {pid} has no mapping whose pathname contains `{needle}`")]
    NoMappingNamed { pid: u32, needle: String },
}
