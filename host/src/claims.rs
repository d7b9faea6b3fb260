//! Claims: the JSON document a policy decides on, parsed once at the boundary.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::digest::Digest;

/// Why a JSON document was refused, with its position when it is a syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("expected a JSON object at the top level, found {found}")]
    NotAnObject { found: &'static str },
    #[error("cannot canonicalize: {0}")]
    Canonical(String),
}

fn parse_object(text: &str) -> Result<Value, JsonError> {
    let value: Value = serde_json::from_str(text).map_err(|e| JsonError::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e),
    })?;
    match value {
        Value::Object(_) => Ok(value),
        other => Err(JsonError::NotAnObject {
            found: kind(&other),
        }),
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A claims document: a JSON object, held in its RFC 8785 canonical form.
///
/// The canonical text is what the policy sees and what the decision log
/// records, so replaying a recorded input feeds the policy the same bytes.
/// The held value is parsed back from that text, and equality is the text's.
#[derive(Clone)]
pub struct Claims {
    value: Value,
    canonical: Arc<str>,
}

impl Claims {
    /// Parses `text`, which must be a JSON object.
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        Self::from_value(parse_object(text)?)
    }

    /// Takes a JSON value, which must be an object.
    pub fn from_value(value: Value) -> Result<Self, JsonError> {
        if !value.is_object() {
            return Err(JsonError::NotAnObject {
                found: kind(&value),
            });
        }
        let canonical =
            serde_jcs::to_string(&value).map_err(|e| JsonError::Canonical(e.to_string()))?;
        Ok(Self {
            value,
            canonical: canonical.into(),
        })
    }

    /// The canonical JSON text.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    pub fn value(&self) -> &Value {
        &self.value
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for Claims {}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

/// A policy's data document: a JSON object, kept byte for byte as given so its
/// digest identifies the file it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct DataDocument {
    text: Arc<str>,
    digest: Digest,
}

impl DataDocument {
    /// Parses `text`, which must be a JSON object.
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        parse_object(text)?;
        Ok(Self {
            text: text.into(),
            digest: Digest::of(text.as_bytes()),
        })
    }

    /// The empty data document, `{}`.
    pub fn empty() -> Self {
        Self::from_json("{}").expect("`{}` is a JSON object")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }
}

impl fmt::Debug for DataDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataDocument({})", self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = Claims::from_json("{\n  \"a\": 1,\n  \"b\": }").unwrap_err();
        assert!(
            matches!(
                err,
                JsonError::Syntax {
                    line: 3,
                    column: 8,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            Claims::from_json("[1]").unwrap_err(),
            JsonError::NotAnObject { found: "an array" }
        );
    }

    #[test]
    fn claims_are_canonical() {
        let c = Claims::from_json(r#"{ "b": 1.0, "a": [true, null] }"#).unwrap();
        assert_eq!(c.canonical(), r#"{"a":[true,null],"b":1}"#);
        assert_eq!(Claims::from_json(c.canonical()).unwrap(), c);
    }
}
