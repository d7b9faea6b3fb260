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

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The `errno` Linux returns for a process that no longer exists.
const ESRCH: i32 = 3;

/// A region's name within a report.
///
/// Guarantees: 1 to [`RegionId::MAX_LEN`] bytes, each one of
/// `A-Z a-z 0-9 . _ : -`. Serialized as that plain string; deserializing
/// validates it the same way as [`FromStr`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RegionId(String);

/// Why a string is not a valid [`RegionId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid region id `{value}`: {rule}")]
pub struct RegionIdError {
    /// The rejected value, cut to its first 80 characters.
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl RegionId {
    /// The longest accepted id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// The id as validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn allowed(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')
    }
}

impl FromStr for RegionId {
    type Err = RegionIdError;

    fn from_str(s: &str) -> Result<Self, RegionIdError> {
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(Self::allowed) {
            return Err(RegionIdError {
                value: s.chars().take(80).collect(),
                rule: "must be 1-128 characters of [A-Za-z0-9._:-]",
            });
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_serde::serde_as_text!(RegionId);

/// The access rights of a region, as in the first three columns of the
/// permissions field of `/proc/<pid>/maps`.
///
/// Guarantees: its text form is exactly three characters, `r` or `-`, then
/// `w` or `-`, then `x` or `-` (for example `r--`, `rw-`, `r-x`, `---`);
/// parsing and deserializing accept nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Protection {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

/// Why a string is not a valid [`Protection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protection `{value}`: must be three characters [r-][w-][x-], like `r--` or `r-x`")]
pub struct ProtectionError {
    /// The rejected value, cut to its first 16 characters.
    pub value: String,
}

impl Protection {
    /// `r--`: what a [`FileRange`] reports.
    pub const READ_ONLY: Self = Self {
        read: true,
        write: false,
        execute: false,
    };
    /// `rw-`.
    pub const READ_WRITE: Self = Self {
        read: true,
        write: true,
        execute: false,
    };
    /// `r-x`.
    pub const READ_EXECUTE: Self = Self {
        read: true,
        write: false,
        execute: true,
    };
    /// `---`.
    pub const NONE: Self = Self {
        read: false,
        write: false,
        execute: false,
    };

    fn flag(on: bool, letter: char) -> char {
        if on { letter } else { '-' }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = [
            Self::flag(self.read, 'r'),
            Self::flag(self.write, 'w'),
            Self::flag(self.execute, 'x'),
        ]
        .iter()
        .collect();
        f.write_str(&text)
    }
}

impl FromStr for Protection {
    type Err = ProtectionError;

    fn from_str(s: &str) -> Result<Self, ProtectionError> {
        let flag = |b: u8, letter: u8| match b {
            b'-' => Some(false),
            _ if b == letter => Some(true),
            _ => None,
        };
        let parsed = match s.as_bytes() {
            [r, w, x] => flag(*r, b'r').zip(flag(*w, b'w')).zip(flag(*x, b'x')).map(
                |((read, write), execute)| Self {
                    read,
                    write,
                    execute,
                },
            ),
            _ => None,
        };
        parsed.ok_or_else(|| ProtectionError {
            value: s.chars().take(16).collect(),
        })
    }
}

crate::text_serde::serde_as_text!(Protection);

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
fn check_bounds(region: &Region, offset: u64, len: usize) -> Result<u64, RegionError> {
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
enum ReadFailure {
    /// End of file at this position.
    Eof(u64),
    /// The OS failed the read at this position.
    Io(u64, io::Error),
}

/// Fill `buf` from `file` at `pos`, retrying short and interrupted reads.
fn read_full(file: &File, mut pos: u64, mut buf: &mut [u8]) -> Result<(), ReadFailure> {
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

/// One line of `/proc/<pid>/maps`.
///
/// Guarantees: `start < end`; `pathname` is the text after the inode column
/// (lossily decoded, may end in ` (deleted)`), `None` for anonymous memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address of the mapping.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Its `rwx` rights.
    pub protection: Protection,
    /// `s` (shared) rather than `p` (private) in the fourth permission column.
    pub shared: bool,
    /// Offset in the mapped file.
    pub file_offset: u64,
    /// The mapped file or pseudo-name such as `[heap]`.
    pub pathname: Option<String>,
}

impl Mapping {
    /// Parse one line of `/proc/<pid>/maps`; the error says what is wrong.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut rest = line;
        let mut field = || {
            let trimmed = rest.trim_start_matches(' ');
            let end = trimmed.find(' ').unwrap_or(trimmed.len());
            let (value, tail) = trimmed.split_at(end);
            rest = tail;
            value
        };
        let (range, perms, offset, _device, inode) = (field(), field(), field(), field(), field());
        let (start, end) = Self::parse_range(range)?;
        let (protection, shared) = Self::parse_perms(perms)?;
        let file_offset = parse_hex(offset).ok_or_else(|| format!("bad offset `{offset}`"))?;
        if inode.is_empty() {
            return Err("missing device or inode column".to_string());
        }
        let pathname = Some(rest.trim_start_matches(' '))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        Ok(Self {
            start,
            end,
            protection,
            shared,
            file_offset,
            pathname,
        })
    }

    fn parse_range(range: &str) -> Result<(u64, u64), String> {
        let bad = || format!("bad address range `{range}`");
        let (start, end) = range.split_once('-').ok_or_else(bad)?;
        let start = parse_hex(start).ok_or_else(bad)?;
        let end = parse_hex(end).ok_or_else(bad)?;
        if start >= end {
            return Err(bad());
        }
        Ok((start, end))
    }

    fn parse_perms(perms: &str) -> Result<(Protection, bool), String> {
        let bad = || format!("bad permissions `{perms}`");
        let (rwx, kind) = perms.split_at_checked(3).ok_or_else(bad)?;
        let protection = rwx.parse().map_err(|_| bad())?;
        match kind {
            "p" => Ok((protection, false)),
            "s" => Ok((protection, true)),
            _ => Err(bad()),
        }
    }

    /// Whether `address` lies in `start..end`.
    pub fn contains(&self, address: u64) -> bool {
        (self.start..self.end).contains(&address)
    }
}

/// A non-empty run of hex digits (no sign, no `0x`) as a `u64`.
fn parse_hex(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
    digits.then(|| u64::from_str_radix(text, 16).ok()).flatten()
}

/// The path `/proc/<pid>/<name>`.
fn proc_path(pid: u32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{name}"))
}

/// Map an error opening or reading a `/proc/<pid>` file to a precise one.
fn proc_error(pid: u32, path: PathBuf, source: io::Error) -> RegionError {
    match source.kind() {
        io::ErrorKind::NotFound => RegionError::NoSuchProcess { pid },
        io::ErrorKind::PermissionDenied => RegionError::PermissionDenied { pid, path, source },
        _ if source.raw_os_error() == Some(ESRCH) => RegionError::NoSuchProcess { pid },
        _ => RegionError::ProcRead { pid, path, source },
    }
}

/// Every mapping of process `pid`, in the kernel's (ascending address) order.
///
/// Guarantees: each entry parsed strictly; a malformed line is an error
/// naming its (1-based) line number.
pub fn read_maps(pid: u32) -> Result<Vec<Mapping>, RegionError> {
    let path = proc_path(pid, "maps");
    let text = fs::read(&path).map_err(|source| proc_error(pid, path, source))?;
    text.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| {
            Mapping::parse(&String::from_utf8_lossy(line)).map_err(|reason| {
                RegionError::MapsSyntax {
                    pid,
                    line: i + 1,
                    reason,
                }
            })
        })
        .collect()
}

/// The size and protection of the range at `address` in `maps`: `size`
/// defaults to the rest of the mapping containing `address`; an explicit size
/// may continue into adjacent mappings of the same protection.
fn resolve(
    pid: u32,
    maps: &[Mapping],
    address: u64,
    size: Option<u64>,
) -> Result<(u64, Protection), RegionError> {
    let first = maps
        .iter()
        .position(|m| m.contains(address))
        .ok_or(RegionError::AddressNotMapped { pid, address })?;
    let protection = maps[first].protection;
    let Some(size) = size else {
        return Ok((maps[first].end - address, protection));
    };
    let end = address
        .checked_add(size)
        .ok_or(RegionError::AddressOverflow { pid, address, size })?;
    let mut covered = maps[first].end;
    for next in &maps[first + 1..] {
        if covered >= end {
            break;
        }
        if next.start != covered {
            return Err(RegionError::RangeNotMapped {
                pid,
                address,
                size,
                gap: covered,
            });
        }
        if next.protection != protection {
            let other = next.protection;
            return Err(RegionError::MixedProtection {
                pid,
                address,
                size,
                first: protection,
                other,
                other_start: next.start,
            });
        }
        covered = next.end;
    }
    if covered < end {
        return Err(RegionError::RangeNotMapped {
            pid,
            address,
            size,
            gap: covered,
        });
    }
    Ok((size, protection))
}

/// A range of a process's virtual memory, read through `/proc/<pid>/mem`.
///
/// Guarantees: at opening, the range lay within one mapping or adjacent
/// mappings of one protection (the region's protection); the memory file was
/// opened before the maps were read, so every read comes from that same
/// process image even if the pid is reused later. A read of memory unmapped
/// since then fails ([`RegionError::Unreadable`]); a read after the process
/// exited fails ([`RegionError::ProcessGone`]).
#[derive(Debug)]
pub struct ProcessRegion {
    region: Region,
    pid: u32,
    mem: File,
}

impl ProcessRegion {
    /// Open `size` bytes at virtual `address` of process `pid`; `None` means
    /// the rest of the mapping containing `address`.
    pub fn open(
        pid: u32,
        address: u64,
        size: Option<u64>,
        id: RegionId,
        description: impl Into<String>,
    ) -> Result<Self, RegionError> {
        let path = proc_path(pid, "mem");
        let mem = File::open(&path).map_err(|source| proc_error(pid, path, source))?;
        let (size, protection) = resolve(pid, &read_maps(pid)?, address, size)?;
        let region = Region {
            id,
            description: description.into(),
            address,
            size,
            protection,
        };
        Ok(Self { region, pid, mem })
    }

    /// The mappings of process `pid` whose pathname contains `needle` (for
    /// example a model weights file's name), in address order; an error if
    /// there are none. Open one with [`ProcessRegion::open`] at its `start`.
    pub fn find_by_name(pid: u32, needle: &str) -> Result<Vec<Mapping>, RegionError> {
        let found: Vec<Mapping> = read_maps(pid)?
            .into_iter()
            .filter(|m| m.pathname.as_deref().is_some_and(|p| p.contains(needle)))
            .collect();
        if found.is_empty() {
            return Err(RegionError::NoMappingNamed {
                pid,
                needle: needle.to_string(),
            });
        }
        Ok(found)
    }

    /// The process the region belongs to.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl RegionSource for ProcessRegion {
    fn region(&self) -> &Region {
        &self.region
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), RegionError> {
        check_bounds(&self.region, offset, buf.len())?;
        // Cannot overflow: `resolve` checked address + size.
        let start = self.region.address.saturating_add(offset);
        let (pid, len) = (self.pid, buf.len() as u64);
        read_full(&self.mem, start, buf).map_err(|failure| match failure {
            ReadFailure::Eof(address) => RegionError::ProcessGone { pid, address },
            ReadFailure::Io(address, source) => RegionError::Unreadable {
                pid,
                address,
                len,
                source,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Child, Command};

    use super::super::snapshot::{CHUNK_SIZE, digest_bytes, digest_source};
    use super::*;

    fn id(text: &str) -> RegionId {
        text.parse().expect("valid id")
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(bytes).expect("write");
        file.flush().expect("flush");
        file
    }

    #[test]
    fn region_ids_are_validated() {
        for good in ["a", "model.weights:0", "A-Z_0.9", &"x".repeat(128)] {
            assert_eq!(good.parse::<RegionId>().expect(good).as_str(), good);
        }
        for bad in ["", "a b", "é", "a/b", &"x".repeat(129)] {
            assert!(bad.parse::<RegionId>().is_err(), "{bad}");
            assert!(
                serde_json::from_str::<RegionId>(&format!("{bad:?}")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn protection_text_is_strict() {
        for good in ["r--", "rw-", "r-x", "rwx", "---", "-w-", "--x"] {
            assert_eq!(good.parse::<Protection>().expect(good).to_string(), good);
        }
        for bad in ["", "r-", "rwxp", "R--", "xwr", "r- ", "rw-p"] {
            assert!(bad.parse::<Protection>().is_err(), "{bad}");
        }
        assert_eq!("r-x".parse(), Ok(Protection::READ_EXECUTE));
    }

    #[test]
    fn region_serde_round_trips_and_rejects_unknown_fields() {
        let region = Region {
            id: id("heap"),
            description: "d".into(),
            address: 0x7fff_0000,
            size: 9,
            protection: Protection::READ_WRITE,
        };
        let json = serde_json::to_string(&region).expect("serialize");
        assert_eq!(
            json,
            r#"{"id":"heap","description":"d","address":2147418112,"size":9,"protection":"rw-"}"#
        );
        assert_eq!(
            serde_json::from_str::<Region>(&json).expect("deserialize"),
            region
        );
        let extra = json.replace("\"size\"", "\"extra\":1,\"size\"");
        assert!(serde_json::from_str::<Region>(&extra).is_err());
        assert!(serde_json::from_str::<Region>(&json.replace("rw-", "rw-p")).is_err());
    }

    #[test]
    fn in_memory_reads_are_bounded() {
        let source =
            InMemory::new(id("m"), "m", vec![1, 2, 3], Protection::READ_ONLY).with_address(0x1000);
        assert_eq!(source.region().address, 0x1000);
        let mut buf = [0; 2];
        source.read_at(1, &mut buf).expect("in range");
        assert_eq!(buf, [2, 3]);
        let err = source.read_at(2, &mut buf).expect_err("past end");
        assert!(err.to_string().contains("offset 2"), "{err}");
        assert!(source.read_at(u64::MAX, &mut buf).is_err());
    }

    #[test]
    fn file_range_digest_matches_digest_of_the_slice() {
        let bytes = pattern(3 * CHUNK_SIZE + 100);
        let file = temp_file(&bytes);
        let (offset, length) = (12_345, 2 * CHUNK_SIZE + 7);
        let range = FileRange::open(
            file.path(),
            offset as u64,
            Some(length as u64),
            id("f"),
            "file",
        )
        .expect("open");
        assert_eq!(range.region().address, offset as u64);
        assert_eq!(range.region().protection, Protection::READ_ONLY);
        let expected = digest_bytes(&bytes[offset..offset + length], 1);
        for threads in [1, 2, 3] {
            assert_eq!(digest_source(&range, threads).expect("hash"), expected);
        }
        let rest =
            FileRange::open(file.path(), offset as u64, None, id("f"), "file").expect("open");
        assert_eq!(
            digest_source(&rest, 0).expect("hash"),
            digest_bytes(&bytes[offset..], 1)
        );
        let whole =
            FileRange::open(file.path(), bytes.len() as u64, None, id("f"), "empty").expect("open");
        assert_eq!(
            digest_source(&whole, 0).expect("hash"),
            digest_bytes(&[], 1)
        );
    }

    #[test]
    fn file_range_beyond_end_of_file_is_an_error() {
        let file = temp_file(&pattern(1000));
        let path = file.path().display().to_string();
        for (offset, length) in [
            (1001, None),
            (0, Some(1001)),
            (999, Some(2)),
            (u64::MAX, Some(u64::MAX)),
        ] {
            let err =
                FileRange::open(file.path(), offset, length, id("f"), "f").expect_err("beyond EOF");
            let text = err.to_string();
            assert!(
                matches!(
                    err,
                    RegionError::BeyondEndOfFile {
                        file_size: 1000,
                        ..
                    }
                ),
                "{text}"
            );
            assert!(
                text.contains(&path)
                    && text.contains("1000 bytes")
                    && text.contains(&offset.to_string()),
                "{text}"
            );
        }
        let missing = FileRange::open("/nonexistent/weights.bin", 0, None, id("f"), "f")
            .expect_err("missing");
        assert!(
            missing.to_string().contains("/nonexistent/weights.bin"),
            "{missing}"
        );
        let dir = FileRange::open("/tmp", 0, None, id("f"), "f").expect_err("directory");
        assert!(matches!(dir, RegionError::NotAFile { .. }), "{dir}");
    }

    #[test]
    fn file_that_shrinks_or_changes_is_an_error() {
        let file = temp_file(&pattern(3 * CHUNK_SIZE));
        let range = FileRange::open(file.path(), 0, None, id("f"), "f").expect("open");
        file.as_file()
            .set_len(CHUNK_SIZE as u64 + 10)
            .expect("truncate");
        let err = digest_source(&range, 2).expect_err("shrunk");
        assert!(
            matches!(err, RegionError::FileShrank { offset, .. } if offset == CHUNK_SIZE as u64 + 10),
            "{err}"
        );
        let head = FileRange::open(file.path(), 0, Some(10), id("f"), "f").expect("open");
        file.as_file().set_len(5 * CHUNK_SIZE as u64).expect("grow");
        let err = digest_source(&head, 1).expect_err("changed");
        assert!(matches!(err, RegionError::FileChanged { .. }), "{err}");
    }

    #[test]
    fn maps_lines_parse_strictly() {
        let line = "7f1c2a000000-7f1c2a021000 r-xp 0001a000 fd:01 1234                       /opt/model weights.bin (deleted)";
        let mapping = Mapping::parse(line).expect("valid");
        assert_eq!(
            (mapping.start, mapping.end, mapping.file_offset),
            (0x7f1c_2a00_0000, 0x7f1c_2a02_1000, 0x1a000)
        );
        assert_eq!(
            (mapping.protection, mapping.shared),
            (Protection::READ_EXECUTE, false)
        );
        assert_eq!(
            mapping.pathname.as_deref(),
            Some("/opt/model weights.bin (deleted)")
        );
        let anonymous = Mapping::parse("1000-2000 rw-s 00000000 00:00 0 ").expect("valid");
        assert_eq!((anonymous.pathname, anonymous.shared), (None, true));
        for bad in [
            "",
            "1000-2000",
            "2000-1000 r--p 0 00:00 0",
            "1000-2000 r--x 0 00:00 0",
            "1000-zz r--p 0 00:00 0",
            "1000-2000 r--p 0g 00:00 0",
            "+1000-2000 r--p 0 00:00 0",
            "1000-2000 r--p 0 00:00",
        ] {
            assert!(Mapping::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolve_spans_adjacent_mappings_of_one_protection() {
        let map = |start, end, protection| Mapping {
            start,
            end,
            protection,
            shared: false,
            file_offset: 0,
            pathname: None,
        };
        let maps = [
            map(0x1000, 0x2000, Protection::READ_ONLY),
            map(0x2000, 0x3000, Protection::READ_ONLY),
            map(0x3000, 0x4000, Protection::READ_WRITE),
            map(0x5000, 0x6000, Protection::READ_WRITE),
        ];
        assert_eq!(
            resolve(1, &maps, 0x1800, None).expect("ok"),
            (0x800, Protection::READ_ONLY)
        );
        assert_eq!(
            resolve(1, &maps, 0x1800, Some(0x1800)).expect("ok"),
            (0x1800, Protection::READ_ONLY)
        );
        assert!(matches!(
            resolve(1, &maps, 0x1800, Some(0x2000)),
            Err(RegionError::MixedProtection {
                other_start: 0x3000,
                ..
            })
        ));
        assert!(matches!(
            resolve(1, &maps, 0x3800, Some(0x1000)),
            Err(RegionError::RangeNotMapped { gap: 0x4000, .. })
        ));
        assert!(matches!(
            resolve(1, &maps, 0x5800, Some(0x1000)),
            Err(RegionError::RangeNotMapped { gap: 0x6000, .. })
        ));
        assert!(matches!(
            resolve(1, &maps, 0x4000, None),
            Err(RegionError::AddressNotMapped {
                address: 0x4000,
                ..
            })
        ));
        assert!(matches!(
            resolve(1, &maps, 0x5800, Some(u64::MAX)),
            Err(RegionError::AddressOverflow { .. })
        ));
    }

    #[test]
    fn own_heap_vec_digest_matches_digest_bytes() {
        let bytes = pattern(3 * CHUNK_SIZE + 5);
        let address = bytes.as_ptr() as u64;
        let region = ProcessRegion::open(
            std::process::id(),
            address,
            Some(bytes.len() as u64),
            id("vec"),
            "test vec",
        )
        .expect("open");
        assert!(region.region().protection.read && region.region().protection.write);
        for threads in [1, 2, 0] {
            assert_eq!(
                digest_source(&region, threads).expect("hash"),
                digest_bytes(&bytes, 1)
            );
        }
        let small = vec![0xa5u8; 100];
        let region = ProcessRegion::open(
            std::process::id(),
            small.as_ptr() as u64,
            Some(100),
            id("small"),
            "",
        )
        .expect("open");
        assert_eq!(
            digest_source(&region, 0).expect("hash"),
            digest_bytes(&small, 1)
        );
    }

    /// A child process killed when the test ends.
    struct Sleeper(Child);

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn child_process_binary_mapping_matches_the_file() {
        let child = Sleeper(
            Command::new("sleep")
                .arg("30")
                .spawn()
                .expect("spawn sleep"),
        );
        let pid = child.0.id();
        // The child may still be inside execve: its exe link can name the new
        // binary before the binary is mapped. Wait until it is.
        let mut attempt = 0;
        let (exe, mappings) = loop {
            let exe = fs::read_link(format!("/proc/{pid}/exe")).expect("exe link");
            let found = ProcessRegion::find_by_name(pid, exe.to_str().expect("utf-8 path"));
            match found {
                Ok(mappings) if exe.ends_with("sleep") => break (exe, mappings),
                _ if attempt < 200 => attempt += 1,
                other => panic!("sleep's binary never appeared in its maps: {other:?}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let first = mappings
            .iter()
            .find(|m| m.protection.read)
            .expect("a readable mapping");
        let region = ProcessRegion::open(pid, first.start, None, id("sleep"), "sleep binary")
            .expect("open as root");
        assert_eq!(region.region().size, first.end - first.start);
        assert_eq!(region.region().protection, first.protection);
        let file_size = fs::metadata(&exe).expect("stat").len();
        let length = region.region().size.min(file_size - first.file_offset);
        let in_file =
            FileRange::open(&exe, first.file_offset, Some(length), id("f"), "").expect("open file");
        let in_memory =
            ProcessRegion::open(pid, first.start, Some(length), id("m"), "").expect("open");
        assert_eq!(
            digest_source(&in_memory, 0).expect("hash memory"),
            digest_source(&in_file, 0).expect("hash file")
        );
        let missing =
            ProcessRegion::find_by_name(pid, "no-such-weights.bin").expect_err("not mapped");
        assert!(
            missing.to_string().contains("no-such-weights.bin"),
            "{missing}"
        );
    }

    #[test]
    fn bogus_pid_is_an_error_naming_it() {
        let err =
            ProcessRegion::open(4_000_000_000, 0x1000, None, id("x"), "").expect_err("no such pid");
        assert!(
            matches!(err, RegionError::NoSuchProcess { pid: 4_000_000_000 }),
            "{err}"
        );
        assert_eq!(err.to_string(), "no process with pid 4000000000");
    }

    #[test]
    fn unmapped_addresses_are_errors() {
        let pid = std::process::id();
        let err = ProcessRegion::open(pid, 0, Some(1), id("x"), "").expect_err("page zero");
        assert!(
            matches!(err, RegionError::AddressNotMapped { address: 0, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("0x0") && err.to_string().contains(&pid.to_string()),
            "{err}"
        );
        let maps = read_maps(pid).expect("own maps");
        let before_gap = maps
            .windows(2)
            .find(|w| w[0].end != w[1].start)
            .map(|w| w[0].end)
            .expect("a gap");
        let err = ProcessRegion::open(pid, before_gap - 1, Some(2), id("x"), "")
            .expect_err("runs into the gap");
        assert!(
            matches!(err, RegionError::RangeNotMapped { gap, .. } if gap == before_gap),
            "{err}"
        );
    }

    #[test]
    fn proc_errors_are_classified() {
        let path = PathBuf::from("/proc/1/mem");
        let denied = proc_error(
            1,
            path.clone(),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(
            denied.to_string().contains("CAP_SYS_PTRACE")
                && denied.to_string().contains("/proc/1/mem"),
            "{denied}"
        );
        assert!(matches!(
            proc_error(1, path.clone(), io::Error::from_raw_os_error(ESRCH)),
            RegionError::NoSuchProcess { pid: 1 }
        ));
        assert!(matches!(
            proc_error(1, path, io::Error::other("x")),
            RegionError::ProcRead { .. }
        ));
    }
}
