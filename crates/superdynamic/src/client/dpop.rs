//! Which DPoP key (RFC 9449) a credential's token requests and MCP requests are signed with: the stored one
//! (a refresh keeps the key its tokens are bound to), else a new one when the authorization server lists
//! `dpop_signing_alg_values_supported` or the resource asked for DPoP ([`DpopMode`]).

use super::McpClient;
use crate::discovery::AuthorizationServerMetadata;
use crate::dpop::{DpopAlg, DpopKey, DpopMode, DpopProver};
use crate::error::Error;
use crate::secret::DpopPrivateKey;
use crate::token::{TokenError, TokenSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl McpClient {
    /// The prover for a sign-in at `metadata`'s server: the key of `stored` tokens when there is one (one key
    /// per credential), else a new key, or `None` for Bearer tokens.
    pub(super) fn sign_in_prover(
        &self,
        metadata: &AuthorizationServerMetadata,
        stored: Option<&TokenSet>,
    ) -> Result<Option<DpopProver>, Error> {
        let mode = self.options.dpop;
        if mode == DpopMode::Never || self.bearer_only.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let offered = metadata.dpop_signing_alg_values_supported.as_deref().filter(|a| !a.is_empty());
        let demanded = mode == DpopMode::Always || self.resource_wants_dpop.load(Ordering::Relaxed);
        let alg = match (offered, demanded) {
            (Some(algs), true) => DpopAlg::choose(algs).map_err(TokenError::from)?,
            (Some(algs), false) => match DpopAlg::choose(algs) {
                Ok(alg) => alg,
                Err(e) => {
                    // Advertised, not demanded: Bearer tokens may still be accepted.
                    tracing::warn!("{e}; continuing with Bearer tokens");
                    return Ok(None);
                }
            },
            (None, true) => DpopAlg::Es256,
            (None, false) => return Ok(None),
        };
        if let Some(key) = stored.and_then(|t| t.dpop_key.as_ref())
            && let Ok(prover) = self.prover_for(key)
            && prover.key.alg() == alg
        {
            return Ok(Some(prover));
        }
        let key = DpopKey::generate(alg).map_err(TokenError::from)?;
        Ok(Some(DpopProver { key: Arc::new(key), nonces: self.dpop_nonces.clone() }))
    }

    /// The key `tokens` are bound to, for a caller that sends requests with them itself (DPoP proofs per
    /// request, RFC 9449 §7.1); `None` for Bearer tokens.
    pub fn dpop_prover(&self, tokens: &TokenSet) -> Result<Option<DpopProver>, Error> {
        match tokens.dpop_key.as_ref().filter(|_| tokens.is_dpop()) {
            Some(key) => self.prover_for(key).map(Some),
            None => Ok(None),
        }
    }

    /// The prover for a refresh of `tokens`: their own key, whatever the mode (the refresh token may be bound
    /// to it, RFC 9449 §5).
    pub(super) fn refresh_prover(&self, tokens: &TokenSet) -> Result<Option<DpopProver>, Error> {
        tokens.dpop_key.as_ref().map(|k| self.prover_for(k)).transpose()
    }

    /// Tells the transport how to send `tokens`: DPoP-bound with their key, or as a Bearer token.
    pub(super) fn present(&self, tokens: Option<&TokenSet>) -> Result<(), Error> {
        let prover = match tokens.filter(|t| t.is_dpop()).and_then(|t| t.dpop_key.as_ref()) {
            Some(key) => Some(self.prover_for(key)?),
            None => None,
        };
        self.transport.set_dpop(prover);
        Ok(())
    }

    /// The resource answered with a `DPoP` challenge: the next sign-in binds its tokens (mode auto).
    pub(super) fn note_dpop_challenge(&self, www_authenticate: &[String]) {
        if crate::dpop::dpop_challenge(www_authenticate).is_some() {
            self.resource_wants_dpop.store(true, Ordering::Relaxed);
        }
    }

    /// The parsed key of `secret`, cached: parsing checks the key pair, which is not free on every request.
    fn prover_for(&self, secret: &DpopPrivateKey) -> Result<DpopProver, Error> {
        let mut cache = self.dpop_keys.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some((cached, key)) = cache.as_ref()
            && cached == secret
        {
            return Ok(DpopProver { key: key.clone(), nonces: self.dpop_nonces.clone() });
        }
        let key = Arc::new(DpopKey::from_secret(secret).map_err(TokenError::from)?);
        *cache = Some((secret.clone(), key.clone()));
        Ok(DpopProver { key, nonces: self.dpop_nonces.clone() })
    }
}
