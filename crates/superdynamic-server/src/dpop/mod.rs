//! DPoP on the server side (RFC 9449): proofs at the token endpoint bind access tokens (`cnf.jkt`) and the
//! refresh tokens of public clients to the client's key; the resource server accepts a bound token only with
//! `Authorization: DPoP` and a valid proof for that request, signed by that key.
//!
//! Written independently of the client library. Files: `proof` (checking one proof), `thumbprint`
//! (RFC 7638), `replay` (the `jti` cache), `nonce` (server-provided nonces, §8/§9).

mod nonce;
pub(crate) mod proof;
mod replay;
mod thumbprint;

pub use nonce::NonceIssuer;
pub use proof::{DpopAlg, ProofError, VerifiedProof};
pub use thumbprint::jwk_thumbprint;

use axum::http::HeaderMap;
use replay::ReplayCache;

/// How far a proof's `iat` may be from now, either way (RFC 9449 §11.1: a short window).
pub const IAT_WINDOW_SECS: i64 = 60;
/// The request header with the proof (§4.1) and the response header with a nonce (§8).
pub const PROOF_HEADER: &str = "dpop";
pub const NONCE_HEADER: &str = "dpop-nonce";

/// What checking proofs takes, shared by the token endpoint and the resource server.
pub struct DpopState {
    /// The proof algorithms accepted, as advertised (RFC 9449 §5.1 `dpop_signing_alg_values_supported`).
    algs: Vec<DpopAlg>,
    replay: ReplayCache,
    /// `Some` when proofs must carry a nonce this server gave (`--dpop-nonce`).
    nonces: Option<NonceIssuer>,
}

/// What a proof must match for one request.
pub struct Expected<'a> {
    pub method: &'a str,
    /// The request URI (query and fragment are ignored, §4.3 step 9).
    pub url: &'a str,
    /// The access token sent with it (resource requests): the proof's `ath` must be its hash.
    pub access_token: Option<&'a str>,
}

impl DpopState {
    pub fn new(algs: Vec<DpopAlg>, require_nonce: bool) -> Self {
        Self { algs, replay: ReplayCache::new(replay::DEFAULT_CAPACITY), nonces: require_nonce.then(NonceIssuer::new) }
    }

    /// The accepted algorithms' names, for metadata and `algs` in challenges (RFC 9449 §5.1, §7.1).
    pub fn alg_names(&self) -> Vec<&'static str> {
        self.algs.iter().map(|a| a.name()).collect()
    }

    /// The nonce to hand out now, when nonces are required.
    pub fn current_nonce(&self, now: i64) -> Option<String> {
        self.nonces.as_ref().map(|n| n.current(now))
    }

    /// Checks the request's one `DPoP` header against `expected` (RFC 9449 §4.3); `Ok(None)` when there is
    /// no proof at all (the caller decides whether one was needed).
    pub fn check(
        &self,
        headers: &HeaderMap,
        expected: &Expected<'_>,
        now: i64,
    ) -> Result<Option<VerifiedProof>, ProofError> {
        let mut values = headers.get_all(PROOF_HEADER).iter();
        let Some(value) = values.next() else { return Ok(None) };
        if values.next().is_some() {
            return Err(ProofError::Multiple);
        }
        let proof = value.to_str().map_err(|_| ProofError::Malformed("the DPoP header is not ASCII"))?;
        let verified = proof::verify(proof, &self.algs, expected, now)?;
        if let Some(nonces) = &self.nonces
            && !verified.nonce.as_deref().is_some_and(|n| nonces.accepts(n, now))
        {
            return Err(ProofError::UseNonce);
        }
        // Last, so a proof turned away for its nonce can be followed by a fresh one (its own jti).
        if !self.replay.insert(&verified.jti, now + IAT_WINDOW_SECS, now) {
            return Err(ProofError::Replayed);
        }
        Ok(Some(verified))
    }
}

#[cfg(test)]
mod tests {
    use super::proof::testing::TestKey;
    use super::*;
    use axum::http::HeaderValue;

    const URL: &str = "http://127.0.0.1:1/mcp";

    fn headers(proofs: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for p in proofs {
            h.append(PROOF_HEADER, HeaderValue::from_str(p).unwrap());
        }
        h
    }

    fn expected() -> Expected<'static> {
        Expected { method: "POST", url: URL, access_token: None }
    }

    #[test]
    fn no_proof_is_for_the_caller_to_judge_and_two_are_refused() {
        let state = DpopState::new(DpopAlg::ALL.to_vec(), false);
        let now = crate::storage::now();
        assert!(state.check(&HeaderMap::new(), &expected(), now).unwrap().is_none());
        let key = TestKey::es256();
        let (a, b) = (key.proof("POST", URL, None, None, now), key.proof("POST", URL, None, None, now));
        assert_eq!(state.check(&headers(&[&a, &b]), &expected(), now).unwrap_err(), ProofError::Multiple);
    }

    #[test]
    fn a_replayed_proof_is_refused() {
        let state = DpopState::new(DpopAlg::ALL.to_vec(), false);
        let now = crate::storage::now();
        let proof = TestKey::es256().proof("POST", URL, None, None, now);
        assert!(state.check(&headers(&[&proof]), &expected(), now).unwrap().is_some());
        assert_eq!(state.check(&headers(&[&proof]), &expected(), now).unwrap_err(), ProofError::Replayed);
    }

    #[test]
    fn with_nonces_required_only_the_current_nonce_passes() {
        let state = DpopState::new(DpopAlg::ALL.to_vec(), true);
        let now = crate::storage::now();
        let key = TestKey::es256();
        let without = key.proof("POST", URL, None, None, now);
        assert_eq!(state.check(&headers(&[&without]), &expected(), now).unwrap_err(), ProofError::UseNonce);
        let wrong = key.proof("POST", URL, None, Some("guessed"), now);
        assert_eq!(state.check(&headers(&[&wrong]), &expected(), now).unwrap_err(), ProofError::UseNonce);
        let nonce = state.current_nonce(now).unwrap();
        let with = key.proof("POST", URL, None, Some(&nonce), now);
        assert!(state.check(&headers(&[&with]), &expected(), now).unwrap().is_some());
        assert_eq!(DpopState::new(DpopAlg::ALL.to_vec(), false).current_nonce(now), None);
    }
}
