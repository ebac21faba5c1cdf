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
        let resource_algs = self.resource_dpop_algs.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
        let offered = offered_algs(metadata.dpop_signing_alg_values_supported.as_deref(), resource_algs.as_deref());
        let demanded = mode == DpopMode::Always || resource_algs.is_some();
        let alg = match (offered.as_deref(), demanded) {
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
        if let Some(challenge) = crate::dpop::dpop_challenge(www_authenticate) {
            let algs =
                challenge.param("algs").unwrap_or_default().split_ascii_whitespace().map(str::to_owned).collect();
            *self.resource_dpop_algs.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(algs);
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

/// The algorithms a new key may use. One key signs the token requests (the authorization server's list,
/// RFC 9449 §5.1) and the MCP requests (the resource's challenge `algs`, §7.1): those both accept when there
/// are any, else the authorization server's (its refusal would end the sign-in), else the resource's.
fn offered_algs(authorization_server: Option<&[String]>, resource: Option<&[String]>) -> Option<Vec<String>> {
    let authorization_server = authorization_server.filter(|a| !a.is_empty());
    let resource = resource.filter(|r| !r.is_empty());
    match (authorization_server, resource) {
        (Some(a), Some(r)) => {
            let both: Vec<String> = a.iter().filter(|alg| r.contains(alg)).cloned().collect();
            Some(if both.is_empty() { a.to_vec() } else { both })
        }
        (Some(list), None) | (None, Some(list)) => Some(list.to_vec()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_key_algorithm_suits_both_servers_when_it_can() {
        let choose = |a: Option<&[&str]>, r: Option<&[&str]>| {
            let (a, r) = (a.map(list), r.map(list));
            offered_algs(a.as_deref(), r.as_deref()).map(|o| DpopAlg::choose(&o).map(DpopAlg::as_str))
        };
        // The resource takes only RS256: ES256 would sign in, then fail at every MCP request.
        assert_eq!(choose(Some(&["ES256", "RS256"]), Some(&["RS256"])).unwrap().unwrap(), "RS256");
        assert_eq!(choose(Some(&["ES256", "EdDSA"]), Some(&["EdDSA", "ES256"])).unwrap().unwrap(), "ES256");
        // No overlap: the authorization server's list decides.
        assert_eq!(choose(Some(&["EdDSA"]), Some(&["RS256"])).unwrap().unwrap(), "EdDSA");
        // Only the resource named its algorithms.
        assert_eq!(choose(None, Some(&["RS256"])).unwrap().unwrap(), "RS256");
        assert_eq!(choose(Some(&[]), Some(&["EdDSA"])).unwrap().unwrap(), "EdDSA");
        assert!(choose(None, Some(&["PS256"])).unwrap().is_err());
        assert!(choose(None, None).is_none());
    }
}
