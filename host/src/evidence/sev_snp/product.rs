//! AMD EPYC products that sign SEV-SNP reports, and the keys that sign them.

use std::fmt;

/// The EPYC generation whose AMD root anchors a verified report.
///
/// Serialises as `"milan"`, `"genoa"` or `"turin"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// 3rd generation EPYC (Zen 3).
    Milan,
    /// 4th generation EPYC (Zen 4).
    Genoa,
    /// 5th generation EPYC (Zen 5).
    Turin,
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
        })
    }
}

/// The endorsement key that signed a report, as the report's KEY_INFO says.
///
/// Serialises as `"vcek"` (chip-unique) or `"vlek"` (loaded by a cloud provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key, certified by the ASK.
    Vcek,
    /// Versioned Loaded Endorsement Key, certified by the ASVK.
    Vlek,
}

impl SigningKey {
    /// "VCEK" or "VLEK".
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Vcek => "VCEK",
            Self::Vlek => "VLEK",
        }
    }

    /// The intermediate certificate that signs this kind of key.
    pub(super) fn intermediate(self) -> &'static str {
        match self {
            Self::Vcek => "ASK",
            Self::Vlek => "ASVK",
        }
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
