//! The flags and `clients.json` entries of the assertion grants: `--grant enterprise` (the IdP, its client and the
//! user's ID token) and `--grant workload` (where the platform's identity token is).

use crate::Failure;
use crate::cli::{GlobalArgs, GrantKind};
use std::path::PathBuf;
use superdynamic::assertion_source::AssertionSource;
use superdynamic::secret::ClientSecret;
use superdynamic::{ClientOptions, EnterpriseIdp};

/// Fills in [`ClientOptions::enterprise`] and [`ClientOptions::workload_assertion`] from the flags, else (for the
/// IdP) from the first `clients.json` entry with an `idp` object.
pub fn apply(global: &GlobalArgs, options: &mut ClientOptions) -> Result<(), Failure> {
    options.workload_assertion = match (&global.assertion_file, &global.assertion_env) {
        (Some(path), _) => Some(AssertionSource::File(path.clone())),
        (None, Some(var)) => Some(AssertionSource::Env(var.clone())),
        (None, None) => None,
    };
    if global.grant == GrantKind::Workload && options.workload_assertion.is_none() {
        return Err(Failure::usage(
            "--grant workload needs the platform's identity token: --assertion-file PATH or --assertion-env VAR",
        ));
    }
    options.enterprise = match &global.idp_client_id {
        Some(client_id) => Some(from_flags(global, client_id)?),
        None => from_clients_file(global)?,
    };
    if global.grant == GrantKind::Enterprise && options.enterprise.is_none() {
        return Err(Failure::usage(
            "--grant enterprise needs the identity provider: --idp-issuer URL --idp-client-id ID --id-token-file PATH \
             (or an \"idp\" object in a clients.json entry)",
        ));
    }
    Ok(())
}

fn from_flags(global: &GlobalArgs, client_id: &str) -> Result<EnterpriseIdp, Failure> {
    let id_token = match (&global.id_token_file, &global.id_token_env) {
        (Some(path), _) => AssertionSource::File(path.clone()),
        (None, Some(var)) => AssertionSource::Env(var.clone()),
        (None, None) => {
            return Err(Failure::usage(
                "--idp-client-id needs the user's ID token: --id-token-file PATH or --id-token-env VAR",
            ));
        }
    };
    if global.idp_issuer.is_none() && global.idp_token_endpoint.is_none() {
        return Err(Failure::usage("--idp-client-id needs --idp-issuer URL (or --idp-token-endpoint URL)"));
    }
    Ok(EnterpriseIdp {
        issuer: global.idp_issuer.clone(),
        token_endpoint: global.idp_token_endpoint.clone(),
        client_id: client_id.to_string(),
        client_secret: global.idp_client_secret.clone().map(ClientSecret::new),
        id_token,
    })
}

/// `{"clients": [{"issuer": "...", "client_id": "...", "client_secret_env": "VAR", "idp": {"issuer": "...",
/// "client_id": "...", "client_secret_env": "VAR", "id_token_file": "..."}}]}`.
#[derive(serde::Deserialize)]
struct File {
    clients: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(default)]
    idp: Option<IdpEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IdpEntry {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    id_token_file: Option<PathBuf>,
    #[serde(default)]
    id_token_env: Option<String>,
}

fn from_clients_file(global: &GlobalArgs) -> Result<Option<EnterpriseIdp>, Failure> {
    let explicit = global.clients_file.clone();
    let path = match explicit.clone() {
        Some(p) => p,
        None => crate::store::file_path(global)?.with_file_name("clients.json"),
    };
    // commands::static_clients reports an unreadable or malformed file; here it only has no IdP.
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let Ok(file) = serde_json::from_str::<serde_json::Value>(&text) else { return Ok(None) };
    let file: File = serde_json::from_value(file)
        .map_err(|e| Failure::usage(format!("the idp entry in {} is not valid: {e}", path.display())))?;
    let Some(idp) = file.clients.into_iter().find_map(|c| c.idp) else { return Ok(None) };
    let secret = match (idp.client_secret, &idp.client_secret_env) {
        (Some(s), _) => Some(ClientSecret::new(s)),
        (None, Some(var)) => Some(ClientSecret::new(std::env::var(var).map_err(|_| {
            Failure::usage(format!(
                "{} names ${var} for the IdP client {}, but it is not set",
                path.display(),
                idp.client_id
            ))
        })?)),
        (None, None) => None,
    };
    let id_token = match (idp.id_token_file, idp.id_token_env) {
        (Some(p), _) => AssertionSource::File(p),
        (None, Some(var)) => AssertionSource::Env(var),
        (None, None) => {
            return Err(Failure::usage(format!(
                "the idp entry in {} needs id_token_file or id_token_env",
                path.display()
            )));
        }
    };
    if idp.issuer.is_none() && idp.token_endpoint.is_none() {
        return Err(Failure::usage(format!("the idp entry in {} needs issuer or token_endpoint", path.display())));
    }
    Ok(Some(EnterpriseIdp {
        issuer: idp.issuer,
        token_endpoint: idp.token_endpoint,
        client_id: idp.client_id,
        client_secret: secret,
        id_token,
    }))
}
