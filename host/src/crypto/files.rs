//! Key files: `<name>.key` (PKCS#8 PEM, owner-only) and `<name>.pub` (SPKI
//! PEM).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::{KeyError, KeyId, SigningKey, VerifyingKey};

/// The files [`write_keypair`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairFiles {
    /// `<dir>/<name>.key`: the private key as PKCS#8 PEM, mode 0600 on Unix.
    pub private_key: PathBuf,
    /// `<dir>/<name>.pub`: the public key as SubjectPublicKeyInfo PEM.
    pub public_key: PathBuf,
    /// The id of the key pair.
    pub key_id: KeyId,
}

/// Writes `key` to `<dir>/<name>.key` and its public half to
/// `<dir>/<name>.pub`.
///
/// Never overwrites: if either file exists, nothing is written and the error
/// is [`KeyError::AlreadyExists`]. On Unix the private key file is created
/// with mode 0600, so the secret is never readable by others, not even
/// briefly. Both files and the directory entry are synced to disk before
/// this returns. If anything fails, the files this call created are removed.
pub fn write_keypair(dir: &Path, name: &str, key: &SigningKey) -> Result<KeyPairFiles, KeyError> {
    check_name(name)?;
    let files = KeyPairFiles {
        private_key: dir.join(format!("{name}.key")),
        public_key: dir.join(format!("{name}.pub")),
        key_id: key.key_id().clone(),
    };
    let mut private = create_new(&files.private_key, 0o600)?;
    let mut public = match create_new(&files.public_key, 0o644) {
        Ok(public) => public,
        Err(error) => {
            // `create_new` guarantees the .key is ours to remove; the .pub
            // was not created, so it is left alone.
            let _ = fs::remove_file(&files.private_key);
            return Err(error);
        }
    };
    let written = write_synced(
        &mut private,
        &files.private_key,
        key.to_pkcs8_pem().as_bytes(),
    )
    .and_then(|()| {
        write_synced(
            &mut public,
            &files.public_key,
            key.verifying_key().to_public_key_pem().as_bytes(),
        )
    })
    .and_then(|()| sync_dir(dir));
    if written.is_err() {
        // Never leave a half-written key pair behind.
        let _ = fs::remove_file(&files.private_key);
        let _ = fs::remove_file(&files.public_key);
    }
    written.map(|()| files)
}

/// Reads a PEM PKCS#8 private key file. Errors name the file and say what is
/// wrong with it. On Unix, a key file readable by group or others is loaded
/// but logged as a warning.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = read_key_file(path)?;
    warn_if_exposed(path);
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| in_file(path, e))
}

/// Reads a PEM SubjectPublicKeyInfo public key file. Errors name the file and
/// say what is wrong with it.
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let pem = read_key_file(path)?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| in_file(path, e))
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let bad = name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']);
    if bad {
        Err(KeyError::InvalidName {
            name: name.to_owned(),
        })
    } else {
        Ok(())
    }
}

fn create_new(path: &Path, mode: u32) -> Result<File, KeyError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path).map_err(|source| match source.kind() {
        io::ErrorKind::AlreadyExists => KeyError::AlreadyExists {
            path: path.to_owned(),
        },
        _ => KeyError::Write {
            path: path.to_owned(),
            source,
        },
    })
}

fn write_synced(file: &mut File, path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|source| KeyError::Write {
            path: path.to_owned(),
            source,
        })
}

/// Makes the new directory entries durable: syncing a file does not sync the
/// directory that names it.
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        // `dir` may be `""` for a bare relative name.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| KeyError::Write {
                path: dir.to_owned(),
                source,
            })
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn read_key_file(path: &Path) -> Result<String, KeyError> {
    fs::read_to_string(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => KeyError::Missing {
            path: path.to_owned(),
        },
        io::ErrorKind::InvalidData => in_file(
            path,
            KeyError::NotPem {
                reason: "the file is not UTF-8 text".into(),
            },
        ),
        _ => KeyError::Read {
            path: path.to_owned(),
            source,
        },
    })
}

fn in_file(path: &Path, error: KeyError) -> KeyError {
    KeyError::InFile {
        path: path.to_owned(),
        source: Box::new(error),
    }
}

fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let mode = meta.permissions().mode() & 0o777;
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "private key file is readable by other users");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SignatureAlgorithm;

    #[test]
    fn write_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for alg in SignatureAlgorithm::ALL {
            let key = SigningKey::generate(alg);
            let files = write_keypair(dir.path(), alg.name(), &key).unwrap();
            assert_eq!(files.private_key, dir.path().join(format!("{alg}.key")));
            assert_eq!(&files.key_id, key.key_id());
            assert_eq!(
                load_signing_key(&files.private_key).unwrap().key_id(),
                key.key_id()
            );
            assert_eq!(
                load_verifying_key(&files.public_key).unwrap().key_id(),
                key.key_id()
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = fs::metadata(&files.private_key)
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        write_keypair(dir.path(), "k", &key).unwrap();
        let before = fs::read(dir.path().join("k.key")).unwrap();
        let other = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let err = write_keypair(dir.path(), "k", &other).unwrap_err();
        assert!(
            matches!(&err, KeyError::AlreadyExists { path } if path.ends_with("k.key")),
            "{err}"
        );
        assert_eq!(fs::read(dir.path().join("k.key")).unwrap(), before);

        // Only the .pub exists: nothing is left behind, the .pub is untouched.
        fs::write(dir.path().join("p.pub"), "mine").unwrap();
        let err = write_keypair(dir.path(), "p", &key).unwrap_err();
        assert!(
            matches!(&err, KeyError::AlreadyExists { path } if path.ends_with("p.pub")),
            "{err}"
        );
        assert!(!dir.path().join("p.key").exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("p.pub")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn rejects_names_that_are_not_plain() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        for name in ["", ".hidden", "../up", "a/b", "a\\b", "a\0b"] {
            assert!(
                matches!(
                    write_keypair(dir.path(), name, &key),
                    Err(KeyError::InvalidName { .. })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn load_errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.key");
        let err = load_signing_key(&missing).unwrap_err();
        assert!(
            matches!(&err, KeyError::Missing { path } if *path == missing),
            "{err}"
        );
        assert!(err.to_string().contains("missing.key"), "{err}");

        let garbage = dir.path().join("garbage.key");
        fs::write(&garbage, "not a key\n").unwrap();
        let err = load_signing_key(&garbage).unwrap_err();
        let KeyError::InFile { path, source } = &err else {
            panic!("{err}")
        };
        assert_eq!(path, &garbage);
        assert!(matches!(**source, KeyError::NotPem { .. }), "{err}");
        assert!(
            err.to_string().starts_with(&format!(
                "key file {}: not a PEM document",
                garbage.display()
            )),
            "{err}"
        );

        let binary = dir.path().join("binary.pub");
        fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        let err = load_verifying_key(&binary).unwrap_err();
        assert!(
            matches!(&err, KeyError::InFile { source, .. } if matches!(**source, KeyError::NotPem { .. })),
            "{err}"
        );

        let key = SigningKey::generate(SignatureAlgorithm::MlDsa65);
        let files = write_keypair(dir.path(), "ml", &key).unwrap();
        let err = load_verifying_key(&files.private_key).unwrap_err();
        assert!(err.to_string().contains("give the .pub file"), "{err}");
    }
}
