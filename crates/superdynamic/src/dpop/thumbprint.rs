//! JWK thumbprints (RFC 7638): SHA-256 over the required members only, in lexicographic order, without
//! whitespace (§3.2), base64url without padding.

use super::DpopError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The RFC 7638 §3 thumbprint of a public JWK (EC, OKP or RSA).
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, DpopError> {
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical_jwk(jwk)?.as_bytes())))
}

/// The canonical JSON of §3.2: the required members of the key type (RFC 7518 §6), sorted by name.
pub fn canonical_jwk(jwk: &Value) -> Result<String, DpopError> {
    let kty = jwk.get("kty").and_then(Value::as_str).ok_or(DpopError::Jwk("no kty"))?;
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return Err(DpopError::Jwk("unsupported kty")),
    };
    let mut out = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name).and_then(Value::as_str).ok_or(DpopError::Jwk("a required member is missing"))?;
        if i > 0 {
            out.push(',');
        }
        // serde_json's string escaping is the JSON the RFC asks for (§3.2: no escaping beyond what JSON needs).
        out.push_str(&Value::from(*name).to_string());
        out.push(':');
        out.push_str(&Value::from(value).to_string());
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 §3.1, the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(jwk_thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn ec_members_are_ordered_and_extras_dropped() {
        // The RFC 9449 §4.1 example proof key, with members out of order and an extra one.
        let jwk = json!({
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "kid": "ignored",
            "crv": "P-256",
            "kty": "EC"
        });
        assert_eq!(
            canonical_jwk(&jwk).unwrap(),
            r#"{"crv":"P-256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#
        );
        // RFC 9449 §6.1 gives this key's thumbprint (the example `cnf.jkt`).
        assert_eq!(jwk_thumbprint(&jwk).unwrap(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    }

    #[test]
    fn incomplete_keys_are_refused() {
        assert!(jwk_thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": "a"})).is_err());
        assert!(jwk_thumbprint(&json!({"kty": "oct", "k": "a"})).is_err());
    }
}
