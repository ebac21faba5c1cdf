//! Where a JWT assertion comes from: a file, an environment variable, or a value given once. Files and variables
//! are read again on every use, because platforms rotate workload identity tokens (a Kubernetes projected
//! service account token is replaced before it expires, in place).

use crate::secret::Assertion;
use std::path::PathBuf;

/// The largest assertion read from a file or variable: JWTs are small; a big file is a wrong path.
const MAX_ASSERTION_BYTES: usize = 64 * 1024;

/// Where to read an assertion (a workload identity token, an ID token) each time one is needed.
#[derive(Debug, Clone)]
pub enum AssertionSource {
    /// A file holding the token, re-read on every use.
    File(PathBuf),
    /// An environment variable holding the token, re-read on every use.
    Env(String),
    /// A fixed value.
    Value(Assertion),
}

#[derive(Debug, thiserror::Error)]
pub enum AssertionSourceError {
    #[error("could not read the {what} from {path}: {detail}; check the path (the platform writes it there)")]
    File { what: &'static str, path: String, detail: String },
    #[error("the {what} variable ${var} is not set; export it, or give the token in a file")]
    EnvMissing { what: &'static str, var: String },
    #[error("the {what} from {from} is empty")]
    Empty { what: &'static str, from: String },
    #[error("the {what} from {from} is not a JWT (three base64url parts separated by dots)")]
    NotJwt { what: &'static str, from: String },
    #[error("the {what} in {from} is larger than {MAX_ASSERTION_BYTES} bytes; is it the right file?")]
    TooLarge { what: &'static str, from: String },
}

impl AssertionSource {
    /// Reads the current value; `what` names it in errors ("workload identity token", "ID token").
    pub fn read(&self, what: &'static str) -> Result<Assertion, AssertionSourceError> {
        let (raw, from) = match self {
            AssertionSource::File(path) => {
                let from = path.display().to_string();
                let bytes = std::fs::read(path).map_err(|e| AssertionSourceError::File {
                    what,
                    path: from.clone(),
                    detail: e.to_string(),
                })?;
                if bytes.len() > MAX_ASSERTION_BYTES {
                    return Err(AssertionSourceError::TooLarge { what, from });
                }
                (String::from_utf8_lossy(&bytes).into_owned(), from)
            }
            AssertionSource::Env(var) => {
                let value =
                    std::env::var(var).map_err(|_| AssertionSourceError::EnvMissing { what, var: var.clone() })?;
                (value, format!("${var}"))
            }
            AssertionSource::Value(value) => (value.secret().to_string(), "the configuration".to_string()),
        };
        let token = raw.trim();
        if token.is_empty() {
            return Err(AssertionSourceError::Empty { what, from });
        }
        if token.len() > MAX_ASSERTION_BYTES {
            return Err(AssertionSourceError::TooLarge { what, from });
        }
        let parts: Vec<&str> = token.split('.').collect();
        let base64url =
            |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if parts.len() != 3 || !parts[..2].iter().all(base64url) {
            return Err(AssertionSourceError::NotJwt { what, from });
        }
        Ok(Assertion::new(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_again_on_every_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "aaa.bbb.ccc\n").unwrap();
        let source = AssertionSource::File(path.clone());
        assert_eq!(source.read("token").unwrap().secret(), "aaa.bbb.ccc");
        std::fs::write(&path, "ddd.eee.fff").unwrap();
        assert_eq!(source.read("token").unwrap().secret(), "ddd.eee.fff");
    }

    #[test]
    fn unusable_sources_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let missing = AssertionSource::File(dir.path().join("nope"));
        assert!(missing.read("workload identity token").unwrap_err().to_string().contains("could not read"));
        let path = dir.path().join("t");
        std::fs::write(&path, "  \n").unwrap();
        assert!(AssertionSource::File(path.clone()).read("x").unwrap_err().to_string().contains("is empty"));
        std::fs::write(&path, "not a jwt").unwrap();
        assert!(AssertionSource::File(path).read("x").unwrap_err().to_string().contains("not a JWT"));
        let err = AssertionSource::Env("SUPERDYNAMIC_TEST_SURELY_UNSET_VAR".into()).read("x").unwrap_err();
        assert!(err.to_string().contains("$SUPERDYNAMIC_TEST_SURELY_UNSET_VAR is not set"), "{err}");
    }

    #[test]
    fn debug_never_shows_a_fixed_token() {
        let source = AssertionSource::Value(Assertion::new("aaa.bbb.secret"));
        assert!(!format!("{source:?}").contains("secret"));
    }
}
