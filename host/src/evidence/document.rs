//! The evidence document: `{"nonce": "<hex>", "evidence": [ ... ]}`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::EvidenceNonce;
use super::memory::MemoryReport;
use super::sev_snp::SevSnpEntry;
use super::tpm::TpmEntry;
use crate::messages::JsonObject;

/// The largest document accepted, in bytes (the gateway's default body limit).
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// The most entries one document may carry.
pub const MAX_ENTRIES: usize = 16;

/// A parsed evidence document. Parsing checks shape only; [`super::verify`]
/// checks the evidence.
#[derive(Clone, Debug)]
pub struct EvidenceDocument {
    /// The nonce the attester claims to have bound, if it says.
    pub nonce: Option<EvidenceNonce>,
    /// One to [`MAX_ENTRIES`] entries.
    pub evidence: Vec<EvidenceEntry>,
}

/// One typed entry.
#[derive(Clone, Debug)]
pub enum EvidenceEntry {
    /// `{"type": "tpm", ...}`: a TPM 2.0 quote.
    Tpm(TpmEntry),
    /// `{"type": "sev-snp", ...}`: an AMD SEV-SNP attestation report.
    SevSnp(SevSnpEntry),
    /// `{"type": "memory-report", "report": {...}}`: kept as received JSON,
    /// because its signature covers exactly those members.
    MemoryReport(Value),
}

/// Why bytes are not an evidence document; names the place at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the document is {len} bytes, more than the {MAX_DOCUMENT_BYTES} allowed")]
    TooLarge { len: usize },
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {reason}")]
    Field { path: String, reason: String },
}

fn field(path: impl Into<String>, reason: impl Into<String>) -> DocumentError {
    DocumentError::Field {
        path: path.into(),
        reason: reason.into(),
    }
}

impl EvidenceDocument {
    /// Parses a document, refusing anything but the documented shape:
    /// unknown members, unknown entry types, and wrong types are errors that
    /// name the member (`evidence[1].quote: ...`).
    pub fn parse(bytes: &[u8]) -> Result<Self, DocumentError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge { len: bytes.len() });
        }
        // I-JSON: a member named twice (at any depth) is refused rather than
        // read as its last value, so no two parsers can disagree on what a
        // signed report says.
        let object: JsonObject =
            serde_json::from_slice(bytes).map_err(|e| DocumentError::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        Self::from_value(Value::Object(object.into_map()))
    }

    /// Parses a document already read as JSON, as [`EvidenceDocument::parse`].
    pub fn from_value(value: Value) -> Result<Self, DocumentError> {
        let Value::Object(mut top) = value else {
            return Err(field("document", "must be a JSON object"));
        };
        let nonce = match top.remove("nonce") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                text.parse()
                    .map_err(|e: super::NonceError| field("nonce", e.to_string()))?,
            ),
            Some(_) => return Err(field("nonce", "must be a hex string")),
        };
        let Some(Value::Array(entries)) = top.remove("evidence") else {
            return Err(field("evidence", "must be an array of entries"));
        };
        if let Some(unknown) = top.keys().next() {
            return Err(field(
                unknown.as_str(),
                "unknown member (expected nonce, evidence)",
            ));
        }
        if entries.is_empty() || entries.len() > MAX_ENTRIES {
            return Err(field(
                "evidence",
                format!(
                    "must hold 1 to {MAX_ENTRIES} entries, has {}",
                    entries.len()
                ),
            ));
        }
        let evidence = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| parse_entry(index, entry))
            .collect::<Result<_, _>>()?;
        Ok(Self { nonce, evidence })
    }
}

impl EvidenceDocument {
    /// The document as JSON, in the shape [`EvidenceDocument::parse`] reads:
    /// `{"nonce": <hex, when set>, "evidence": [{"type": ..., ...}]}`.
    pub fn to_value(&self) -> Value {
        let mut document = Map::new();
        if let Some(nonce) = &self.nonce {
            document.insert("nonce".into(), Value::String(nonce.hex()));
        }
        let entries = self.evidence.iter().map(EvidenceEntry::to_value).collect();
        document.insert("evidence".into(), Value::Array(entries));
        Value::Object(document)
    }
}

impl EvidenceEntry {
    /// The entry as JSON, tagged by `type` as in a document.
    pub fn to_value(&self) -> Value {
        let (kind, mut members) = match self {
            Self::Tpm(entry) => ("tpm", to_members(entry)),
            Self::SevSnp(entry) => ("sev-snp", to_members(entry)),
            Self::MemoryReport(report) => {
                let members = Map::from_iter([("report".to_string(), report.clone())]);
                ("memory-report", members)
            }
        };
        members.insert("type".into(), Value::String(kind.into()));
        Value::Object(members)
    }

    /// A memory-report entry for a report made here. (A report is plain
    /// data, so serializing it cannot fail; a `null` report would only be
    /// refused by a verifier.)
    pub fn memory_report(report: &MemoryReport) -> Self {
        Self::MemoryReport(serde_json::to_value(report).unwrap_or(Value::Null))
    }
}

/// The members of an entry struct: plain strings and maps, which always
/// serialize to a JSON object.
fn to_members<T: serde::Serialize>(entry: &T) -> Map<String, Value> {
    match serde_json::to_value(entry) {
        Ok(Value::Object(members)) => members,
        _ => Map::new(),
    }
}

fn parse_entry(index: usize, entry: Value) -> Result<EvidenceEntry, DocumentError> {
    let path = format!("evidence[{index}]");
    let Value::Object(mut members) = entry else {
        return Err(field(path, "must be an object with a `type`"));
    };
    let kind = match members.remove("type") {
        Some(Value::String(kind)) => kind,
        _ => return Err(field(format!("{path}.type"), "must be a string")),
    };
    match kind.as_str() {
        "tpm" => typed(&path, members).map(EvidenceEntry::Tpm),
        "sev-snp" => typed(&path, members).map(EvidenceEntry::SevSnp),
        "memory-report" => memory_report(&path, members),
        other => Err(field(
            format!("{path}.type"),
            format!("unknown evidence type `{other}` (expected tpm, sev-snp, memory-report)"),
        )),
    }
}

fn typed<T: DeserializeOwned>(path: &str, members: Map<String, Value>) -> Result<T, DocumentError> {
    serde_json::from_value(Value::Object(members)).map_err(|e| field(path, e.to_string()))
}

fn memory_report(
    path: &str,
    mut members: Map<String, Value>,
) -> Result<EvidenceEntry, DocumentError> {
    let report = members
        .remove("report")
        .ok_or_else(|| field(path, "missing member `report`"))?;
    if let Some(unknown) = members.keys().next() {
        return Err(field(format!("{path}.{unknown}"), "unknown member"));
    }
    if !report.is_object() {
        return Err(field(format!("{path}.report"), "must be an object"));
    }
    // The shape is checked here, so a malformed report is a malformed
    // document; the raw value is kept for the signature check.
    serde_json::from_value::<MemoryReport>(report.clone())
        .map_err(|e| field(format!("{path}.report"), e.to_string()))?;
    Ok(EvidenceEntry::MemoryReport(report))
}
