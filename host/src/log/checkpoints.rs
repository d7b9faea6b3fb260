//! The checkpoints file kept next to a log: `<log>.checkpoints`, every
//! checkpoint the writer signed, oldest first, each a signed note.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::LogError;
use super::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::crypto::VerifyingKey;

/// The checkpoints file of the log at `log`: its path with `.checkpoints`
/// appended.
pub fn checkpoints_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".checkpoints");
    PathBuf::from(name)
}

/// One signed note of a checkpoints file, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredNote {
    /// The byte offset the note starts at.
    pub offset: u64,
    /// The note's text, signatures included.
    pub text: String,
}

/// Reads the notes of the checkpoints file of the log at `log`; `None` when
/// there is no such file (a log written before checkpoints existed).
///
/// The file is notes one after another: each is text lines, one empty
/// line, then signature lines starting `— `; the next note starts at the
/// first line after them that does not. Fails on a file that ends inside a
/// note ([`LogError::TornCheckpoints`]).
pub fn read_notes(log: &Path) -> Result<Option<Vec<StoredNote>>, LogError> {
    let path = checkpoints_path(log);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LogError::Read { path, source }),
    };
    let text = String::from_utf8(bytes).map_err(|e| LogError::Checkpoint {
        path: path.clone(),
        offset: e.utf8_error().valid_up_to() as u64,
        source: CheckpointError::NotACheckpoint("invalid UTF-8".into()),
    })?;
    split_notes(&text)
        .map(Some)
        .map_err(|offset| LogError::TornCheckpoints { path, offset })
}

/// Splits `text` into notes; `Err(offset)` names where an incomplete last
/// note starts.
fn split_notes(text: &str) -> Result<Vec<StoredNote>, u64> {
    #[derive(PartialEq)]
    enum State {
        Body,
        Signatures,
    }
    let mut notes = Vec::new();
    let (mut state, mut start, mut offset) = (State::Body, 0usize, 0usize);
    for line in text.split_inclusive('\n') {
        if state == State::Signatures && !line.starts_with("— ") {
            notes.push(StoredNote {
                offset: start as u64,
                text: text[start..offset].to_owned(),
            });
            (state, start) = (State::Body, offset);
        }
        if state == State::Body && line == "\n" {
            state = State::Signatures;
        }
        offset += line.len();
    }
    let complete =
        state == State::Signatures && text.ends_with('\n') && !text[start..].ends_with("\n\n");
    if complete {
        notes.push(StoredNote {
            offset: start as u64,
            text: text[start..].to_owned(),
        });
    } else if start < text.len() {
        return Err(start as u64);
    }
    Ok(notes)
}

/// Verifies one stored note as a checkpoint signed by `key`.
pub(super) fn verify_note(
    log: &Path,
    note: &StoredNote,
    key: &VerifyingKey,
) -> Result<SignedCheckpoint, LogError> {
    SignedCheckpoint::verify(&note.text, key).map_err(|source| LogError::Checkpoint {
        path: checkpoints_path(log),
        offset: note.offset,
        source,
    })
}

/// The last checkpoint in the checkpoints file of the log at `log`,
/// verified with `key`; `None` when there is no checkpoints file or it is
/// empty.
pub fn latest_checkpoint(
    log: &Path,
    key: &VerifyingKey,
) -> Result<Option<SignedCheckpoint>, LogError> {
    let Some(notes) = read_notes(log)? else {
        return Ok(None);
    };
    notes
        .last()
        .map(|note| verify_note(log, note, key))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "o\n1\nX\n\n— o AAAA\n";
    const B: &str = "o\n2\nY\n\n— o BBBB\n— w CCCC\n";

    #[test]
    fn notes_are_split_where_the_signatures_end() {
        let both = format!("{A}{B}");
        let notes = split_notes(&both).unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!((notes[0].offset, notes[0].text.as_str()), (0, A));
        assert_eq!(
            (notes[1].offset, notes[1].text.as_str()),
            (A.len() as u64, B)
        );
        assert_eq!(split_notes("").unwrap(), vec![]);
    }

    #[test]
    fn an_incomplete_last_note_is_torn_at_its_start() {
        let at = A.len() as u64;
        for cut in [1, 4, 7, B.len() - 1] {
            let text = format!("{A}{}", &B[..cut]);
            assert_eq!(split_notes(&text), Err(at), "cut at {cut}");
        }
    }
}
