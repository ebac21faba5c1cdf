//! What a server's `WWW-Authenticate` asks of a DPoP client (RFC 9449 §7.1, §9).

use crate::discovery::www_authenticate::{Challenge, parse};

/// The resource's `DPoP` challenge, if it sent one: it accepts (or demands) DPoP-bound tokens; `algs` lists
/// the algorithms it takes (RFC 9449 §7.1).
pub fn dpop_challenge<S: AsRef<str>>(values: &[S]) -> Option<Challenge> {
    values.iter().flat_map(|v| parse(v.as_ref())).find(|c| c.scheme.eq_ignore_ascii_case("dpop"))
}

/// RFC 9449 §9: a 401 whose DPoP challenge says `error="use_dpop_nonce"`: retry with the `DPoP-Nonce` given.
pub fn is_use_dpop_nonce<S: AsRef<str>>(values: &[S]) -> bool {
    dpop_challenge(values).is_some_and(|c| c.param("error") == Some("use_dpop_nonce"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_challenge_is_recognised_among_others() {
        let values = ["Bearer realm=\"x\"", "DPoP error=\"use_dpop_nonce\", error_description=\"fresh nonce\""];
        assert!(is_use_dpop_nonce(&values));
        assert!(!is_use_dpop_nonce(&["DPoP error=\"invalid_token\""]));
        assert!(!is_use_dpop_nonce(&["Bearer error=\"use_dpop_nonce\""]), "only the DPoP scheme means it");
        let c = dpop_challenge(&["DPoP algs=\"ES256 EdDSA\", resource_metadata=\"https://r/.wk\""]).unwrap();
        assert_eq!(c.param("algs"), Some("ES256 EdDSA"));
    }
}
