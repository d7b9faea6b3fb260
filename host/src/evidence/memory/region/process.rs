//! [`ProcessRegion`]: a range of a live process's memory, located through
//! `/proc/<pid>/maps` and read through `/proc/<pid>/mem`.

use std::fs::{self, File};
use std::io;
use std::path::PathBuf;

use super::error::RegionError;
use super::id::RegionId;
use super::protection::Protection;
use super::source::{ReadFailure, Region, RegionSource, check_bounds, read_full};

/// The `errno` Linux returns for a process that no longer exists.
pub(super) const ESRCH: i32 = 3;

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
pub(super) fn proc_error(pid: u32, path: PathBuf, source: io::Error) -> RegionError {
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
pub(super) fn resolve(
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
