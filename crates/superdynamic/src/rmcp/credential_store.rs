//! rmcp's `CredentialStore` over any superdynamic store (file, keychain, PostgreSQL, memory), for programs that
//! keep rmcp's own `AuthorizationManager`: its tokens are kept where the CLI keeps ours, bound to the issuer
//! our discovery finds, written compare-and-swap, refreshed under the same cross-process lock as ours.
//!
//! rmcp's `StoredCredentials` (a client_id and an OAuth token response) map onto our record's registration and
//! tokens; the record's authorization server metadata and `resource` are those our discovery validated.
//!
//! Refreshes: rmcp takes [`acquire_refresh_guard`](::rmcp::transport::auth::CredentialStore::acquire_refresh_guard)
//! (our store's lock for this credential) before it loads the credentials, so a process that waited refreshes
//! with the rotated refresh token the first one stored, never a spent one. rmcp 3.11 does not look whether the
//! access token it then loads is already fresh, so two managers expiring together both refresh (one after the
//! other); superdynamic's own [`transport`](super::transport) refreshes once.

use crate::client::{ClientOptions, McpClient};
use crate::discovery::Discovery;
use crate::error::Error;
use crate::registration::{ClientRegistration, RegistrationSource, TokenEndpointAuth};
use crate::resource::{Issuer, ResourceUri};
use crate::secret::{AccessToken, RefreshToken};
use crate::store::{self, CredentialKey, CredentialRecord, CredentialStore, Expected, Saved, StoreError};
use crate::token::{TokenSet, now_unix};
use ::rmcp::transport::auth::{AuthError, CredentialRefreshGuard, OAuthTokenResponse, StoredCredentials};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How long rmcp's refresh waits for another process's refresh of the same credential (ours waits as long).
const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Compare-and-swap attempts before a save gives up (each conflict means another writer got in between).
const SAVE_ATTEMPTS: usize = 5;

/// rmcp's credential store for one MCP server, one profile, one authorization server.
#[derive(Clone)]
pub struct RmcpCredentialStore {
    store: Arc<dyn CredentialStore>,
    profile: String,
    server: ResourceUri,
    discovery: Discovery,
}

impl fmt::Debug for RmcpCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RmcpCredentialStore")
            .field("store", &self.store.describe())
            .field("profile", &self.profile)
            .field("server", &self.server.to_string())
            .field("issuer", &self.discovery.issuer.to_string())
            .finish()
    }
}

impl RmcpCredentialStore {
    /// Runs superdynamic's discovery for `url` (with `options`' network policy and timeouts) and binds the
    /// adapter to the authorization server it finds, in `options.store` under `options.profile`.
    pub async fn discover(url: &str, options: &ClientOptions) -> Result<Self, Error> {
        let client = McpClient::new(url, options.clone())?;
        let discovery = client.discover_binding().await?;
        Ok(Self::bound(options.store.clone(), &options.profile, client.server().clone(), discovery))
    }

    /// The adapter for a discovery already made.
    pub fn bound(store: Arc<dyn CredentialStore>, profile: &str, server: ResourceUri, discovery: Discovery) -> Self {
        Self { store, profile: profile.to_string(), server, discovery }
    }

    /// The authorization server rmcp's credentials must come from.
    pub fn issuer(&self) -> &Issuer {
        &self.discovery.issuer
    }

    /// The discovery this adapter is bound to (the metadata to hand rmcp's `AuthorizationManager::set_metadata`
    /// is `discovery().authorization_server`).
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    fn key(&self) -> CredentialKey {
        CredentialKey {
            profile: self.profile.clone(),
            server: self.server.clone(),
            issuer: self.discovery.issuer.clone(),
        }
    }

    async fn record(&self) -> Result<Option<CredentialRecord>, StoreError> {
        let records = self.store.load(&self.profile, &self.server).await?;
        Ok(records.into_iter().find(|r| r.issuer == self.discovery.issuer))
    }

    /// rmcp's credentials must be this adapter's authorization server's (MCP 2026-07-28 §Authorization Server
    /// Binding): tokens from another issuer are never stored under this one.
    fn check_issuer(&self, credentials: &StoredCredentials) -> Result<(), AuthError> {
        match &credentials.issuer {
            Some(issuer) if Issuer::new(issuer.as_str()) != self.discovery.issuer => {
                Err(AuthError::CredentialStoreError(format!(
                    "refusing to store credentials issued by {issuer} for {}: its authorization server is {}",
                    self.server, self.discovery.issuer
                )))
            }
            _ => Ok(()),
        }
    }
}

fn store_error(e: StoreError) -> AuthError {
    AuthError::CredentialStoreError(e.to_string())
}

/// Our token set as rmcp's token response (the relative `expires_in` rmcp wants, from `obtained_at`).
fn to_token_response(tokens: &TokenSet) -> Result<OAuthTokenResponse, AuthError> {
    let mut response = json!({ "access_token": tokens.access_token.secret(), "token_type": "bearer" });
    if let Some(expires_at) = tokens.expires_at {
        response["expires_in"] = json!(expires_at.saturating_sub(tokens.obtained_at));
    }
    if let Some(refresh) = &tokens.refresh_token {
        response["refresh_token"] = json!(refresh.secret());
    }
    if let Some(scope) = &tokens.scope {
        response["scope"] = json!(scope);
    }
    serde_json::from_value(response)
        .map_err(|e| AuthError::CredentialStoreError(format!("a stored token set does not fit rmcp's form: {e}")))
}

/// rmcp's token response as our token set, `received_at` (else now) being when it was issued.
fn to_token_set(
    response: &OAuthTokenResponse,
    received_at: Option<u64>,
    granted: &[String],
) -> Result<TokenSet, AuthError> {
    let value = serde_json::to_value(response)
        .map_err(|e| AuthError::CredentialStoreError(format!("rmcp's token response is not readable: {e}")))?;
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    let access_token = text("access_token")
        .ok_or_else(|| AuthError::CredentialStoreError("rmcp's token response has no access_token".into()))?;
    let obtained_at = received_at.unwrap_or_else(now_unix);
    let scope = text("scope").or_else(|| (!granted.is_empty()).then(|| granted.join(" ")));
    Ok(TokenSet {
        access_token: AccessToken::new(access_token),
        // Token types compare case-insensitively (RFC 6749 §5.1); oauth2 writes "bearer", we store "Bearer".
        token_type: match text("token_type") {
            Some(t) if !t.eq_ignore_ascii_case("bearer") => t,
            _ => "Bearer".into(),
        },
        expires_at: value.get("expires_in").and_then(Value::as_u64).map(|s| obtained_at.saturating_add(s)),
        refresh_token: text("refresh_token").map(RefreshToken::new),
        scope,
        obtained_at,
        // rmcp's OAuth client sends no DPoP proofs: its tokens are Bearer tokens.
        dpop_key: None,
    })
}

/// The registration to keep for `client_id`: the stored one when it is the same client (it may carry a secret
/// rmcp does not store), else a public client as rmcp registered it.
fn registration_for(client_id: &str, stored: Option<&ClientRegistration>) -> ClientRegistration {
    if let Some(known) = stored.filter(|r| r.client_id == client_id) {
        return known.clone();
    }
    // A Client ID Metadata Document's client_id is its https URL (draft-ietf-oauth-client-id-metadata-document).
    let source = match client_id.starts_with("https://") {
        true => RegistrationSource::MetadataDocument,
        false => RegistrationSource::Dynamic,
    };
    ClientRegistration {
        client_id: client_id.to_string(),
        client_secret: None,
        auth_method: TokenEndpointAuth::None,
        redirect_uris: Vec::new(),
        source,
        client_id_issued_at: None,
        grant_types: Vec::new(),
        client_secret_expires_at: None,
    }
}

#[async_trait::async_trait]
impl ::rmcp::transport::auth::CredentialStore for RmcpCredentialStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let Some(record) = self.record().await.map_err(store_error)? else {
            return Ok(None);
        };
        let Some(registration) = &record.registration else {
            return Ok(None);
        };
        let token_response = record.tokens.as_ref().map(to_token_response).transpose()?;
        let granted =
            record.tokens.as_ref().map(|t| t.scopes().into_iter().map(str::to_string).collect()).unwrap_or_default();
        let received_at = record.tokens.as_ref().map(|t| t.obtained_at);
        let credentials = StoredCredentials::new(registration.client_id.clone(), token_response, granted, received_at)
            .with_issuer(Some(record.issuer.to_string()));
        Ok(Some(credentials))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.check_issuer(&credentials)?;
        let tokens = credentials
            .token_response
            .as_ref()
            .map(|r| to_token_set(r, credentials.token_received_at, &credentials.granted_scopes))
            .transpose()?;
        for _ in 0..SAVE_ATTEMPTS {
            let stored = self.record().await.map_err(store_error)?;
            let expected = stored.as_ref().map_or(Expected::Absent, |r| Expected::Revision(r.revision));
            let registration =
                registration_for(&credentials.client_id, stored.as_ref().and_then(|r| r.registration.as_ref()));
            let record = CredentialRecord {
                profile: self.profile.clone(),
                server: self.server.clone(),
                issuer: self.discovery.issuer.clone(),
                resource: self.discovery.resource.clone(),
                authorization_server: self.discovery.authorization_server.clone(),
                registration: Some(registration),
                tokens: tokens.clone(),
                updated_at: now_unix(),
                revision: 0,
            };
            if let Saved::Written(_) = self.store.save(record, expected).await.map_err(store_error)? {
                return Ok(());
            }
        }
        Err(AuthError::CredentialStoreError(format!(
            "the credentials for {} kept changing while rmcp saved its own ({SAVE_ATTEMPTS} attempts); try again",
            self.server
        )))
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.store.delete(&self.key(), Expected::Any).await.map_err(store_error)?;
        Ok(())
    }

    /// The refresh token was refused (`invalid_grant`): forget the tokens, but only if they are still the
    /// ones rmcp used (a newer set another process stored meanwhile is kept).
    async fn on_refresh_token_rejected(&self, credentials: &StoredCredentials) -> Result<(), AuthError> {
        let Some(record) = self.record().await.map_err(store_error)? else {
            return Ok(());
        };
        let rejected = credentials.token_response.as_ref().map(|r| to_token_set(r, None, &[])).transpose()?;
        let same = match (&record.tokens, &rejected) {
            (Some(stored), Some(rejected)) => stored.refresh_token == rejected.refresh_token,
            _ => false,
        };
        if same {
            let revision = record.revision;
            let forgotten = CredentialRecord { tokens: None, updated_at: now_unix(), ..record };
            self.store.save(forgotten, Expected::Revision(revision)).await.map_err(store_error)?;
        }
        Ok(())
    }

    /// The lock superdynamic's own refresh takes for this credential, so rmcp processes, the CLI and every
    /// other superdynamic client sharing the store refresh one at a time and never spend a rotated refresh
    /// token twice.
    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        let lock =
            self.store.lock(&store::refresh_lock_name(&self.key()), REFRESH_LOCK_WAIT).await.map_err(store_error)?;
        Ok(Some(CredentialRefreshGuard::new(lock)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> TokenSet {
        TokenSet {
            access_token: AccessToken::new("at-1"),
            token_type: "Bearer".into(),
            expires_at: Some(1_003_600),
            refresh_token: Some(RefreshToken::new("rt-1")),
            scope: Some("mcp:tools files:read".into()),
            obtained_at: 1_000_000,
            dpop_key: None,
        }
    }

    #[test]
    fn a_token_set_survives_rmcps_form_unchanged() {
        let ours = tokens();
        let response = to_token_response(&ours).unwrap();
        assert_eq!(to_token_set(&response, Some(ours.obtained_at), &[]).unwrap(), ours);
    }

    #[test]
    fn without_a_scope_in_the_response_the_granted_scopes_are_kept() {
        let ours = TokenSet { scope: None, ..tokens() };
        let response = to_token_response(&ours).unwrap();
        let back = to_token_set(&response, Some(ours.obtained_at), &["mcp:tools".into()]).unwrap();
        assert_eq!(back.scope.as_deref(), Some("mcp:tools"));
    }

    #[test]
    fn a_known_client_keeps_its_registration_and_a_new_one_is_public() {
        let known = registration_for("abc", None);
        assert_eq!((known.auth_method, known.source), (TokenEndpointAuth::None, RegistrationSource::Dynamic));
        let with_secret =
            ClientRegistration { client_secret: Some(crate::secret::ClientSecret::new("s")), ..known.clone() };
        assert_eq!(registration_for("abc", Some(&with_secret)), with_secret);
        let cimd = registration_for("https://app.example/client.json", Some(&with_secret));
        assert_eq!(cimd.source, RegistrationSource::MetadataDocument);
        assert!(cimd.client_secret.is_none());
    }

    #[test]
    fn debug_shows_no_token() {
        let response = to_token_response(&tokens()).unwrap();
        let credentials = StoredCredentials::new("abc".into(), Some(response), vec![], None);
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("at-1") && !shown.contains("rt-1"), "{shown}");
    }
}
