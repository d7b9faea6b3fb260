//! [`Protection`]: a region's access rights, as `/proc/<pid>/maps` writes them.

use std::fmt;
use std::str::FromStr;

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
