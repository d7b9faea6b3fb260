//! The PCR values an entry reports, and their binding to a quote: the
//! quote's selection must equal the reported set and its pcrDigest must be
//! the hash of the reported values in selection order.

use std::collections::{BTreeMap, BTreeSet};

use super::TpmError;
use super::spec::{HashAlg, parse_pcr_index};

/// Reported PCR values: bank, then index, then the raw digest.
pub type PcrValues = BTreeMap<HashAlg, BTreeMap<u8, Vec<u8>>>;

/// Parses the entry's `pcrs` map: known bank names, canonical decimal
/// indices 0..=23, lowercase hex values of the bank's digest length, and no
/// empty bank.
pub fn parse_reported(
    reported: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<PcrValues, TpmError> {
    let mut out = PcrValues::new();
    for (bank_name, values) in reported {
        let bank = HashAlg::from_name(bank_name).ok_or_else(|| TpmError::UnknownPcrBank {
            bank: bank_name.clone(),
        })?;
        if values.is_empty() {
            return Err(TpmError::EmptyPcrBank { bank: bank.name() });
        }
        let mut parsed = BTreeMap::new();
        for (index_text, value) in values {
            let index = parse_pcr_index(index_text).ok_or_else(|| TpmError::BadPcrIndex {
                bank: bank.name(),
                index: index_text.clone(),
            })?;
            parsed.insert(index, parse_value(bank, index, value)?);
        }
        out.insert(bank, parsed);
    }
    Ok(out)
}

/// Decodes one PCR value: lowercase hex, exactly the bank's digest length.
fn parse_value(bank: HashAlg, index: u8, value: &str) -> Result<Vec<u8>, TpmError> {
    let bad = |reason: String| TpmError::BadPcrValue {
        bank: bank.name(),
        index,
        reason,
    };
    let want = bank.digest_len().saturating_mul(2);
    if value.len() != want {
        return Err(bad(format!(
            "{} hex digits, a {bank} PCR needs {want}",
            value.len()
        )));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad("not lowercase hex".to_owned()));
    }
    hex::decode(value).map_err(|e| bad(format!("bad hex: {e}")))
}

/// Checks that the quote selects exactly the reported (bank, index) pairs.
/// Banks the quote lists with no index selected are ignored.
pub fn check_selection(
    selection: &[(HashAlg, BTreeSet<u8>)],
    reported: &PcrValues,
) -> Result<(), TpmError> {
    let quoted: BTreeSet<(HashAlg, u8)> = selection
        .iter()
        .flat_map(|(bank, indices)| indices.iter().map(|i| (*bank, *i)))
        .collect();
    let given: BTreeSet<(HashAlg, u8)> = reported
        .iter()
        .flat_map(|(bank, values)| values.keys().map(|i| (*bank, *i)))
        .collect();
    if let Some((bank, index)) = quoted.difference(&given).next() {
        return Err(TpmError::PcrSelectionMismatch {
            detail: format!("the quote covers {bank} PCR {index} but `pcrs` does not report it"),
        });
    }
    if let Some((bank, index)) = given.difference(&quoted).next() {
        return Err(TpmError::PcrSelectionMismatch {
            detail: format!("`pcrs` reports {bank} PCR {index} but the quote does not cover it"),
        });
    }
    Ok(())
}

/// Recomputes pcrDigest: `hash` over the reported values concatenated in
/// selection order (banks as the quote lists them, indices ascending), as
/// the TPM does in TPM2_Quote. Call [`check_selection`] first.
pub fn check_digest(
    selection: &[(HashAlg, BTreeSet<u8>)],
    reported: &PcrValues,
    hash: HashAlg,
    pcr_digest: &[u8],
) -> Result<(), TpmError> {
    let mut concatenated = Vec::new();
    for (bank, indices) in selection {
        for index in indices {
            let value = reported
                .get(bank)
                .and_then(|values| values.get(index))
                .ok_or_else(|| TpmError::PcrSelectionMismatch {
                    detail: format!("`pcrs` lacks {bank} PCR {index}"),
                })?;
            concatenated.extend_from_slice(value);
        }
    }
    let computed = hash
        .digest(&concatenated)
        .ok_or(TpmError::UnsupportedHash(hash.tpm_id()))?;
    if computed != pcr_digest {
        return Err(TpmError::PcrDigestMismatch {
            quoted: hex::encode(pcr_digest),
            computed: hex::encode(computed),
        });
    }
    Ok(())
}
