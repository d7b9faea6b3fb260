//! A bounds-checked big-endian reader over marshalled TPM structures.
//!
//! Every read either returns exactly the bytes asked for or an error naming
//! the structure, the field and the offset; nothing here can panic.

use super::TpmError;

/// Which marshalled blob a [`Reader`] walks, so errors can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blob {
    /// A TPMS_ATTEST (the `quote` field).
    Quote,
    /// A TPMT_SIGNATURE (the `signature` field).
    Signature,
}

/// A cursor over untrusted bytes that never reads past the end.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    /// What is being read, for errors.
    blob: Blob,
    /// The whole input.
    bytes: &'a [u8],
    /// The next unread offset (never past `bytes.len()`).
    at: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes` (marshalled as `blob`) at offset 0.
    pub(super) fn new(blob: Blob, bytes: &'a [u8]) -> Self {
        Self { blob, bytes, at: 0 }
    }

    /// The offset of the next unread byte.
    pub(super) fn offset(&self) -> usize {
        self.at
    }

    /// Takes the next `n` bytes for `field`, or fails with a truncation error.
    pub(super) fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], TpmError> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let Some(taken) = rest.get(..n) else {
            return Err(self.truncated(field, n, rest.len()));
        };
        self.at = self.at.saturating_add(n);
        Ok(taken)
    }

    /// Reads a fixed-size array for `field`.
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], TpmError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    /// Reads a `u8`.
    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, TpmError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `u16`.
    pub(super) fn u16(&mut self, field: &'static str) -> Result<u16, TpmError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `u32`.
    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, TpmError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `u64`.
    pub(super) fn u64(&mut self, field: &'static str) -> Result<u64, TpmError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// Reads a TPM2B (u16 size, then that many bytes), refusing sizes above `max`.
    pub(super) fn tpm2b(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], TpmError> {
        let at = self.at;
        let size = usize::from(self.u16(field)?);
        if size > max {
            return Err(TpmError::FieldTooLarge {
                blob: self.blob.name(),
                field,
                at,
                size,
                max,
            });
        }
        self.take(field, size)
    }

    /// Fails if any byte is left unread.
    pub(super) fn finish(&self) -> Result<(), TpmError> {
        let extra = self.bytes.len().saturating_sub(self.at);
        if extra == 0 {
            return Ok(());
        }
        Err(TpmError::TrailingBytes {
            blob: self.blob.name(),
            at: self.at,
            extra,
        })
    }

    /// The truncation error for `field` needing `needed` bytes with `available` left.
    fn truncated(&self, field: &'static str, needed: usize, available: usize) -> TpmError {
        match self.blob {
            Blob::Quote => TpmError::QuoteTruncated {
                field,
                at: self.at,
                needed,
                available,
            },
            Blob::Signature => TpmError::SignatureTruncated {
                field,
                at: self.at,
                needed,
                available,
            },
        }
    }
}

impl Blob {
    /// The entry field the blob comes from, for error messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Blob::Quote => "quote",
            Blob::Signature => "signature",
        }
    }
}
