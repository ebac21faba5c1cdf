//! The device authorization grant (RFC 8628) for machines without a browser: show a code and a URL, then poll
//! the token endpoint until the user has approved on another device.

use crate::resource::ResourceUri;
use crate::token::{self, DeviceAuthorization, TokenClient, TokenError, TokenSet};
use std::time::Duration;

/// Most a hostile server can stretch the polling interval to.
const MAX_INTERVAL: u64 = 60;

/// Polls until the user approves, honouring `interval` and `slow_down` (+5 s each, RFC 8628 §3.5). Ends with the
/// server's verdict (`access_denied`, `expired_token`) as a [`TokenError::OAuth`], or a timeout after
/// `expires_in` seconds.
pub async fn poll(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &TokenClient<'_>,
    device: &DeviceAuthorization,
    resource: &ResourceUri,
    scope: Option<&str>,
) -> Result<TokenSet, TokenError> {
    let mut interval = device.interval.clamp(1, MAX_INTERVAL);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(device.expires_in.max(1));
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        match token::device_code(http, token_endpoint, client, device.device_code.secret(), resource, scope).await {
            Ok(tokens) => return Ok(tokens),
            Err(TokenError::OAuth { error, .. }) if error == "authorization_pending" => {}
            Err(TokenError::OAuth { error, .. }) if error == "slow_down" => interval = (interval + 5).min(MAX_INTERVAL),
            Err(e) => return Err(e),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TokenError::OAuth {
                error: "expired_token".into(),
                description: Some("the code expired before it was approved".into()),
            });
        }
    }
}
