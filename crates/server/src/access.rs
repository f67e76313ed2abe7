//! Access control: optional API keys and a per-client rate limit, as one middleware.
//!
//! Keys (`--api-keys`, `--api-keys-file`) are sent as `Authorization: Bearer <key>` or
//! `x-api-key: <key>` and compared in constant time; without keys configured every request is let
//! in. A client is its key (by position, never by value) or, without keys, its peer IP; each has a
//! token bucket of `--rate-limit-burst` requests refilled at `--rate-limit-per-minute`. Paths in
//! `--public-paths` (`/health`, `/livez`, `/metrics` by default) skip both. Failures are answered
//! in the shape of the API asked (`401 unauthorized`, `429 rate_limited` with `Retry-After`):
//! OpenAI's under `/v1/`, ours elsewhere. Neither keys nor the clients' buckets are ever logged.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use dashmap::DashMap;
use std::net::IpAddr;
use std::time::Instant;

use crate::config::Config;
use crate::error::ApiError;
use crate::routes::openai::OpenAiError;

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    /// The n-th configured key.
    Key(usize),
    Ip(IpAddr),
    Unknown,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Access {
    keys: Vec<Vec<u8>>,
    public: Vec<String>,
    /// Requests per second refilled, and the bucket size; `None`: no limit.
    rate: Option<(f64, f64)>,
    buckets: DashMap<Client, Bucket>,
}

/// Equal in time independent of where the bytes differ (only the length may show).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

impl Access {
    /// From the configuration, reading the keys file if one is named.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Self> {
        let mut keys: Vec<String> = cfg.api_keys.iter().map(|k| k.0.clone()).collect();
        if let Some(path) = &cfg.api_keys_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--api-keys-file {}: {e}", path.display()))?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        let keys: Vec<Vec<u8>> = keys
            .into_iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .map(String::into_bytes)
            .collect();
        let rate = (cfg.rate_limit_per_minute > 0).then(|| {
            let burst = if cfg.rate_limit_burst > 0 {
                cfg.rate_limit_burst
            } else {
                cfg.rate_limit_per_minute
            };
            (
                f64::from(cfg.rate_limit_per_minute) / 60.0,
                f64::from(burst),
            )
        });
        tracing::info!(
            api_keys = keys.len(),
            rate_limited = rate.is_some(),
            "access control"
        );
        Ok(Self {
            keys,
            public: cfg.public_paths.clone(),
            rate,
            buckets: DashMap::new(),
        })
    }

    fn is_public(&self, path: &str) -> bool {
        self.public.iter().any(|p| p == path)
    }

    /// The key a request carries, if any.
    fn presented(req: &ServiceRequest) -> Option<String> {
        let h = req.headers();
        let bearer = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_string())
            });
        bearer.or_else(|| {
            h.get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
        })
    }

    /// Who is asking, or why not let in.
    fn authenticate(&self, req: &ServiceRequest) -> Result<Client, ApiError> {
        if self.keys.is_empty() {
            return Ok(req
                .peer_addr()
                .map_or(Client::Unknown, |a| Client::Ip(a.ip())));
        }
        let presented = Self::presented(req).ok_or(ApiError::Unauthorized)?;
        // Compare with every key, so the time does not tell which (or whether one) matched.
        let mut found = None;
        for (i, k) in self.keys.iter().enumerate() {
            if constant_time_eq(presented.as_bytes(), k) && found.is_none() {
                found = Some(i);
            }
        }
        found.map(Client::Key).ok_or(ApiError::Unauthorized)
    }

    /// Take a token from the client's bucket; the error says how long until one is back.
    fn admit(&self, client: Client) -> Result<(), ApiError> {
        let Some((per_s, burst)) = self.rate else {
            return Ok(());
        };
        let now = Instant::now();
        if self.buckets.len() > MAX_BUCKETS {
            self.buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_s < burst);
        }
        let mut b = self.buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_s).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / per_s).ceil().max(1.0) as u64;
            Err(ApiError::RateLimited {
                retry_after_s: wait,
            })
        }
    }
}

/// The middleware.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let access = req.app_data::<web::Data<Access>>().cloned();
    let verdict = match &access {
        Some(a) if !a.is_public(req.path()) => a.authenticate(&req).and_then(|c| a.admit(c)),
        _ => Ok(()),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(e) => {
            let resp = if req.path().starts_with("/v1/") {
                OpenAiError::from(e).error_response()
            } else {
                e.error_response()
            };
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_is_exact() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn buckets_refill_and_refuse() {
        let a = Access {
            keys: vec![],
            public: vec![],
            rate: Some((1.0, 2.0)),
            buckets: DashMap::new(),
        };
        let c = Client::Key(0);
        assert!(a.admit(c).is_ok() && a.admit(c).is_ok());
        let e = a.admit(c).err();
        assert!(
            matches!(e, Some(ApiError::RateLimited { retry_after_s: 1 })),
            "{e:?}"
        );
        assert!(
            a.admit(Client::Key(1)).is_ok(),
            "another client has its own bucket"
        );
    }
}
