//! Secret newtypes. Their `Debug` prints `[redacted]`, they have no `Display`, and their memory is zeroed on
//! drop, so a token can reach a log line only by an explicit `.secret()` call.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret value. Every call site is a place where the secret leaves this type: keep them few.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// An OAuth access token (RFC 6749 §1.4), sent only as `Authorization: Bearer` to the resource it was issued for.
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_type!(
    /// A client secret issued by registration or configured by the user.
    ClientSecret
);
secret_type!(
    /// An authorization code received on the redirect (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_type!(
    /// An OpenID Connect ID token from the enterprise identity provider: the subject token of the ID-JAG exchange.
    IdToken
);
secret_type!(
    /// An Identity Assertion JWT Authorization Grant (SEP-990): a bearer credential for one authorization server.
    IdJag
);
secret_type!(
    /// A JWT presented as an authorization grant (RFC 7523 §2.1), such as a workload's platform identity token.
    Assertion
);
secret_type!(
    /// A DPoP private key (RFC 9449) as stored: `<alg>:<base64url PKCS#8>` ([`crate::dpop::DpopKey`]).
    DpopPrivateKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let token = AccessToken::new("eyJ-very-secret");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        let opt = Some(RefreshToken::new("rt-secret"));
        assert!(!format!("{opt:?}").contains("rt-secret"));
    }

    #[test]
    fn serde_round_trips_the_value() {
        let secret = ClientSecret::new("s3cr3t");
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, "\"s3cr3t\"");
        let back: ClientSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, secret);
    }
}
