//! mcp-remote's stored sign-ins (npm `mcp-remote`), read so a user switching to superdynamic keeps them.
//!
//! For one server mcp-remote keeps, in a layout folder of its directory (see [`base_dir`] and
//! [`McpRemoteDir`]), `<hash>_client_info.json` (the client registration) and `<hash>_tokens.json` (the token
//! response), `<hash>` being derived from how it was started ([`ServerSpec::hash`]). Its other files
//! (`_code_verifier.txt`, `_lock.json`, `_debug.log`) belong to a sign-in in progress or a running process and
//! are not read. Nothing here writes, renames or deletes anything in mcp-remote's directory.

mod convert;
mod hash;
mod host_config;
mod layout;
mod private_file;

pub use convert::ContentError;
pub use hash::ServerSpec;
pub use host_config::{HostEntry, mcp_remote_entries};
pub use layout::base_dir;
pub use private_file::FileRefusal;

use crate::registration::ClientRegistration;
use crate::token::TokenSet;
use std::path::{Path, PathBuf};

/// One server's sign-in as mcp-remote stored it, converted to our types and not yet bound to an authorization
/// server (mcp-remote does not record which one issued it: the importer runs discovery for that).
#[derive(Debug, Clone)]
pub struct McpRemoteSignIn {
    pub server: ServerSpec,
    pub hash: String,
    /// The layout folder the files are in.
    pub dir: PathBuf,
    pub registration: ClientRegistration,
    /// `None` when mcp-remote registered but never finished a sign-in.
    pub tokens: Option<TokenSet>,
}

/// Why a server's mcp-remote sign-in cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotImportable {
    #[error("no mcp-remote sign-in found for {url} (looked for {hash} in {})", .dir.display())]
    NotFound { url: String, hash: String, dir: PathBuf },
    #[error("{0}")]
    Refused(#[from] FileRefusal),
    #[error("{} is unusable: {error}", .path.display())]
    Content { path: PathBuf, error: ContentError },
    #[error(
        "{} holds tokens but {} (the client registration they belong to) is missing, so they could never be \
         refreshed; sign in with `superdynamic login` instead",
        .tokens.display(), .registration.display()
    )]
    TokensWithoutRegistration { tokens: PathBuf, registration: PathBuf },
}

/// mcp-remote's directory and its layout folders, newest first.
#[derive(Debug, Clone)]
pub struct McpRemoteDir {
    base: PathBuf,
    layouts: Vec<PathBuf>,
}

impl McpRemoteDir {
    /// Lists the layout folders of `base` (see [`base_dir`] for where it is); fails when `base` cannot be read.
    pub fn open(base: &Path) -> std::io::Result<Self> {
        Ok(Self { base: base.to_path_buf(), layouts: layout::layout_dirs(base)? })
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The layout folders, newest first.
    pub fn layouts(&self) -> &[PathBuf] {
        &self.layouts
    }

    /// The sign-in for `server` in the newest folder that has files for it. Files that are not private regular
    /// files, or do not parse, are refused rather than skipped over for an older folder: what mcp-remote uses
    /// now is what would be imported.
    pub fn find(&self, server: &ServerSpec, now: u64) -> Result<McpRemoteSignIn, NotImportable> {
        let hash = server.hash();
        let client_info_name = format!("{hash}_client_info.json");
        let tokens_name = format!("{hash}_tokens.json");
        let Some(dir) = self.layouts.iter().find(|dir| {
            private_file::exists(&dir.join(&client_info_name)) || private_file::exists(&dir.join(&tokens_name))
        }) else {
            return Err(NotImportable::NotFound { url: server.url.clone(), hash, dir: self.base.clone() });
        };
        let client_info_path = dir.join(&client_info_name);
        let tokens_path = dir.join(&tokens_name);
        if !private_file::exists(&client_info_path) {
            return Err(NotImportable::TokensWithoutRegistration {
                tokens: tokens_path,
                registration: client_info_path,
            });
        }
        let content = |path: &Path| {
            let path = path.to_path_buf();
            move |error| NotImportable::Content { path, error }
        };
        let client_info = private_file::read(&client_info_path)?;
        let registration = convert::registration(&client_info.text, now).map_err(content(&client_info_path))?;
        let tokens = if private_file::exists(&tokens_path) {
            let file = private_file::read(&tokens_path)?;
            Some(convert::tokens(&file.text, file.modified_unix).map_err(content(&tokens_path))?)
        } else {
            None
        };
        Ok(McpRemoteSignIn { server: server.clone(), hash, dir: dir.clone(), registration, tokens })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const URL: &str = "https://mcp.example.com/mcp";
    const HASH: &str = "94baabe3c3fadb285b26c035e4e86046";

    fn put(dir: &Path, name: &str, text: &str, mode: u32) {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn client_info(id: &str) -> String {
        format!(r#"{{"client_id":"{id}","redirect_uris":["http://localhost:1/oauth/callback"]}}"#)
    }

    #[test]
    fn the_newest_folder_with_files_for_the_server_wins() {
        let base = tempfile::tempdir().unwrap();
        let old = base.path().join("mcp-remote-0.1.9");
        let new = base.path().join("mcp-remote-0.1.29");
        put(&old, &format!("{HASH}_client_info.json"), &client_info("old"), 0o600);
        put(&new, &format!("{HASH}_client_info.json"), &client_info("new"), 0o600);
        put(&new, &format!("{HASH}_tokens.json"), r#"{"access_token":"a","token_type":"Bearer"}"#, 0o600);
        std::fs::create_dir(base.path().join("mcp-remote-0.2.0")).unwrap(); // newer, but nothing for this server
        let found = McpRemoteDir::open(base.path()).unwrap().find(&ServerSpec::new(URL), 0).unwrap();
        assert_eq!(found.registration.client_id, "new");
        assert_eq!(found.dir, new);
        assert_eq!(found.hash, HASH);
        assert!(found.tokens.is_some());
    }

    #[test]
    fn a_registration_without_tokens_is_found_and_tokens_without_one_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("mcp-remote-0.1.29");
        put(&dir, &format!("{HASH}_client_info.json"), &client_info("c"), 0o600);
        let mcp_remote = McpRemoteDir::open(base.path()).unwrap();
        assert!(mcp_remote.find(&ServerSpec::new(URL), 0).unwrap().tokens.is_none());
        std::fs::remove_file(dir.join(format!("{HASH}_client_info.json"))).unwrap();
        put(&dir, &format!("{HASH}_tokens.json"), r#"{"access_token":"a","token_type":"Bearer"}"#, 0o600);
        let error = mcp_remote.find(&ServerSpec::new(URL), 0).unwrap_err();
        assert!(matches!(error, NotImportable::TokensWithoutRegistration { .. }), "{error}");
    }

    #[test]
    fn an_unknown_server_says_which_hash_was_looked_for_where() {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("mcp-remote-0.1.29")).unwrap();
        let error = McpRemoteDir::open(base.path()).unwrap().find(&ServerSpec::new(URL), 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("no mcp-remote sign-in found for {URL} (looked for {HASH} in {})", base.path().display())
        );
    }

    #[test]
    fn refusals_name_the_file_and_the_reason() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("mcp-remote");
        put(&dir, &format!("{HASH}_client_info.json"), &client_info("c"), 0o600);
        put(&dir, &format!("{HASH}_tokens.json"), r#"{"access_token":"a","token_type":"Bearer"}"#, 0o644);
        let mcp_remote = McpRemoteDir::open(base.path()).unwrap();
        let error = mcp_remote.find(&ServerSpec::new(URL), 0).unwrap_err();
        assert!(error.to_string().contains("can be read by other users (mode 0644)"), "{error}");
        put(&dir, &format!("{HASH}_tokens.json"), "{\"access_token\": ", 0o600);
        let error = mcp_remote.find(&ServerSpec::new(URL), 0).unwrap_err();
        assert!(error.to_string().contains("_tokens.json is unusable: it is not valid JSON"), "{error}");
    }
}
