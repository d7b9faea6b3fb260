//! Parsing a marshalled TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE
//! (TPM 2.0 Library Part 2, 10.12), the bytes a TPM signs in TPM2_Quote.

use std::collections::BTreeSet;

use super::TpmError;
use super::reader::{Blob, Reader};
use super::spec::{HashAlg, MAX_PCR_INDEX};

/// The largest marshalled quote accepted (real quotes are a few hundred bytes).
pub const MAX_QUOTE_LEN: usize = 4096;

/// TPM_GENERATED_VALUE: "\xffTCG", present only in structures the TPM made itself.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;

/// TPM_ST_ATTEST_QUOTE.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;

/// sizeof(TPMU_NAME): a digest with its algorithm id, the largest name.
const MAX_NAME_LEN: usize = 66;
/// sizeof(TPMT_HA), the TPM2B_DATA capacity.
const MAX_DATA_LEN: usize = 66;
/// The largest digest (SHA-512).
const MAX_DIGEST_LEN: usize = 64;
/// At most this many banks in a TPML_PCR_SELECTION (TPM HASH_COUNT is far lower).
const MAX_BANKS: u32 = 16;
/// TPM2_PCR_SELECT_MAX in the TSS headers.
const MAX_SIZEOF_SELECT: u8 = 4;

/// TPMS_CLOCK_INFO: the TPM's clock when it signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since its last TPM2_Clear.
    pub clock: u64,
    /// TPM resets (power cycles) since the last TPM2_Clear.
    pub reset_count: u32,
    /// TPM2_Shutdown(STATE)/TPM2_Startup(STATE) cycles since the last reset.
    pub restart_count: u32,
    /// Whether `clock` is guaranteed never to have gone backwards.
    pub safe: bool,
}

/// A parsed quote. Parsing checks structure only (magic, type, sizes,
/// selection well-formedness); the signature is checked elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// qualifiedSigner: the TPM name of the signing key.
    pub qualified_signer: Vec<u8>,
    /// extraData: the caller's qualifyingData (the nonce).
    pub extra_data: Vec<u8>,
    /// clockInfo.
    pub clock: ClockInfo,
    /// firmwareVersion (vendor-defined).
    pub firmware_version: u64,
    /// The quoted PCRs: banks in selection order, each with its indices
    /// (a bank with no index selected is kept, with an empty set).
    pub selection: Vec<(HashAlg, BTreeSet<u8>)>,
    /// pcrDigest: the digest of the selected PCR values.
    pub pcr_digest: Vec<u8>,
}

/// Parses `bytes` as a TPMS_ATTEST quote, rejecting oversize input, a wrong
/// magic or type, truncation and trailing bytes.
pub fn parse_quote(bytes: &[u8]) -> Result<Quote, TpmError> {
    if bytes.len() > MAX_QUOTE_LEN {
        return Err(TpmError::TooLarge {
            field: "quote",
            len: bytes.len(),
            max: MAX_QUOTE_LEN,
        });
    }
    let mut r = Reader::new(Blob::Quote, bytes);
    parse_header(&mut r)?;
    let qualified_signer = r.tpm2b("qualifiedSigner", MAX_NAME_LEN)?.to_vec();
    let extra_data = r.tpm2b("extraData", MAX_DATA_LEN)?.to_vec();
    let clock = parse_clock(&mut r)?;
    let firmware_version = r.u64("firmwareVersion")?;
    let selection = parse_selection(&mut r)?;
    let pcr_digest = r.tpm2b("pcrDigest", MAX_DIGEST_LEN)?.to_vec();
    r.finish()?;
    Ok(Quote {
        qualified_signer,
        extra_data,
        clock,
        firmware_version,
        selection,
        pcr_digest,
    })
}

/// Checks magic and type.
fn parse_header(r: &mut Reader<'_>) -> Result<(), TpmError> {
    let magic = r.u32("magic")?;
    if magic != TPM_GENERATED_VALUE {
        return Err(TpmError::BadMagic(magic));
    }
    let kind = r.u16("type")?;
    if kind != TPM_ST_ATTEST_QUOTE {
        return Err(TpmError::WrongType(kind));
    }
    Ok(())
}

/// Reads TPMS_CLOCK_INFO; `safe` must be TPMI_YES_NO (0 or 1).
fn parse_clock(r: &mut Reader<'_>) -> Result<ClockInfo, TpmError> {
    let clock = r.u64("clockInfo.clock")?;
    let reset_count = r.u32("clockInfo.resetCount")?;
    let restart_count = r.u32("clockInfo.restartCount")?;
    let at = r.offset();
    let safe = match r.u8("clockInfo.safe")? {
        0 => false,
        1 => true,
        other => return Err(TpmError::BadSafeFlag { at, value: other }),
    };
    Ok(ClockInfo {
        clock,
        reset_count,
        restart_count,
        safe,
    })
}

/// Reads TPML_PCR_SELECTION.
fn parse_selection(r: &mut Reader<'_>) -> Result<Vec<(HashAlg, BTreeSet<u8>)>, TpmError> {
    let count = r.u32("pcrSelect.count")?;
    if count > MAX_BANKS {
        return Err(TpmError::TooManyPcrBanks {
            count,
            max: MAX_BANKS,
        });
    }
    let mut banks: Vec<(HashAlg, BTreeSet<u8>)> = Vec::new();
    for _ in 0..count {
        let (bank, indices) = parse_pcr_selection(r)?;
        if banks.iter().any(|(seen, _)| *seen == bank) {
            return Err(TpmError::DuplicatePcrBank { bank: bank.name() });
        }
        banks.push((bank, indices));
    }
    Ok(banks)
}

/// Reads one TPMS_PCR_SELECTION (hash, sizeofSelect, pcrSelect bitmap).
fn parse_pcr_selection(r: &mut Reader<'_>) -> Result<(HashAlg, BTreeSet<u8>), TpmError> {
    let hash_id = r.u16("pcrSelections.hash")?;
    let bank = HashAlg::from_tpm_id(hash_id).ok_or(TpmError::UnsupportedPcrBank(hash_id))?;
    let at = r.offset();
    let size = r.u8("pcrSelections.sizeofSelect")?;
    if size > MAX_SIZEOF_SELECT {
        return Err(TpmError::FieldTooLarge {
            blob: "quote",
            field: "pcrSelections.sizeofSelect",
            at,
            size: usize::from(size),
            max: usize::from(MAX_SIZEOF_SELECT),
        });
    }
    let bitmap = r.take("pcrSelections.pcrSelect", usize::from(size))?;
    Ok((bank, bitmap_indices(bank, bitmap)?))
}

/// The PCR indices set in a pcrSelect bitmap (bit j of byte i is PCR 8i+j).
fn bitmap_indices(bank: HashAlg, bitmap: &[u8]) -> Result<BTreeSet<u8>, TpmError> {
    let mut indices = BTreeSet::new();
    for (byte_no, byte) in (0u8..).zip(bitmap) {
        for bit in 0u8..8 {
            if byte & (1 << bit) == 0 {
                continue;
            }
            let index = byte_no.saturating_mul(8).saturating_add(bit);
            if index > MAX_PCR_INDEX {
                return Err(TpmError::PcrIndexOutOfRange {
                    bank: bank.name(),
                    index,
                });
            }
            indices.insert(index);
        }
    }
    Ok(indices)
}
