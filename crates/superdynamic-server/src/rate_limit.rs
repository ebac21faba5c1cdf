//! Per-client-address rate limiting for `/register` and `/token` (OAuth 2.0 Security BCP, RFC 9700 §4.x
//! "brute force"; RFC 7591 §5 registration abuse): a token bucket keyed by the peer IP.
//!
//! Over the limit the answer is 429 with the OAuth error JSON `{"error":"temporarily_unavailable"}` (RFC 6749
//! §4.1.2.1's code for a temporary condition), `Retry-After` (RFC 9110 §10.2.3) and `Cache-Control: no-store`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How many requests one address may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed at once (the bucket's size).
    pub burst: u32,
    /// Requests regained per minute.
    pub per_minute: u32,
}

impl Default for RateLimit {
    /// Generous: no person or honest client comes near it; a registration or code-guessing flood does.
    fn default() -> Self {
        Self { burst: 600, per_minute: 600 }
    }
}

/// The peer address, for listeners whose address is a `SocketAddr` (plain TCP and our TLS listener).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Buckets per address. Stale entries are dropped when the map grows, so a spray of addresses cannot grow it
/// without bound.
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

const MAX_TRACKED: usize = 10_000;

impl Limiter {
    pub fn new(limit: RateLimit) -> Arc<Self> {
        Arc::new(Self { limit, buckets: Mutex::new(HashMap::new()) })
    }

    /// Takes one request from `ip`'s bucket; `Err(wait)` when it is empty.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.limit.burst.max(1));
        let per_second = f64::from(self.limit.per_minute) / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&ip) {
            let full_after = if per_second > 0.0 { burst / per_second } else { f64::MAX };
            buckets.retain(|_, (_, last)| now.duration_since(*last).as_secs_f64() < full_after);
            if buckets.len() >= MAX_TRACKED {
                return Err(Duration::from_secs(1));
            }
        }
        let (tokens, last) = buckets.entry(ip).or_insert((burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * per_second).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if per_second > 0.0 {
            Err(Duration::from_secs_f64(((1.0 - *tokens) / per_second).ceil().max(1.0)))
        } else {
            Err(Duration::from_secs(60))
        }
    }
}

/// Middleware: requests without a known peer (in-process tests with `oneshot`) are not limited.
pub async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<PeerAddr>>().map(|c| c.0.0.ip());
    if let Some(ip) = peer
        && let Err(wait) = limiter.take(ip, Instant::now())
    {
        tracing::warn!(%ip, path = %request.uri().path(), "rate limit reached");
        let seconds = wait.as_secs().max(1);
        let body = json!({
            "error": "temporarily_unavailable",
            "error_description": format!("too many requests from this address; retry after {seconds} s"),
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            headers.insert(header::RETRY_AFTER, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills() {
        let limiter = Limiter::new(RateLimit { burst: 3, per_minute: 60 });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(ip, t0).is_ok());
        }
        assert_eq!(limiter.take(ip, t0), Err(Duration::from_secs(1)));
        assert!(limiter.take(other, t0).is_ok(), "addresses are limited separately");
        assert!(limiter.take(ip, t0 + Duration::from_secs(1)).is_ok(), "one per second comes back");
        assert!(limiter.take(ip, t0 + Duration::from_secs(1)).is_err());
    }
}
