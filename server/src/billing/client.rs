//! The Stripe API client: async-stripe's hyper client (the `Stripe-Version` header pinned to
//! [`STRIPE_API_VERSION`], our idempotency keys), async-stripe's typed request parameters,
//! and answers decoded into our lenient types ([`super::objects`]).
//!
//! async-stripe decodes answers with its generated models, which need every field of the
//! API version they were generated for. localstripe (Stripe in tests and the local run)
//! answers in 2017-era shapes, so those models fail there; we keep async-stripe's transport
//! and read the raw answer ourselves. A small [`StripeClient`] wrapper hands async-stripe's
//! own client the request and keeps the bytes it got back.

use serde::de::DeserializeOwned;
use std::sync::Mutex;
use std::time::Duration;
use stripe_client_core::{
    CustomizedStripeRequest, IdempotencyKey, RequestBuilder, RequestStrategy, StripeClient,
};

/// The API version every request names in its `Stripe-Version` header: the one
/// async-stripe's request types were generated for (a test pins it, so a crate update that
/// moves it is a conscious change).
pub const STRIPE_API_VERSION: &str = "2026-09-30.endive";

/// How long one HTTP attempt to Stripe may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a Stripe call failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeCallError {
    /// No Stripe key is configured.
    #[error("Stripe is not configured (STRIPE_SECRET_KEY is not set)")]
    NotConfigured,
    /// Stripe could not be reached or did not answer in time.
    #[error("Stripe is unreachable: {0}")]
    Unreachable(String),
    /// Stripe answered with an error.
    #[error("Stripe answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`.
        kind: String,
        /// e.g. `card_declined`, `resource_missing`.
        code: Option<String>,
        /// Stripe's message (card errors are meant for the customer).
        message: String,
    },
    /// The answer could not be read (or an error body that did not say what went wrong).
    #[error("unreadable answer from Stripe: {0}")]
    Unreadable(String),
}

impl StripeCallError {
    /// Whether trying again later may succeed: Stripe down, rate limits, conflicts, 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            StripeCallError::NotConfigured => false,
            StripeCallError::Unreachable(_) | StripeCallError::Unreadable(_) => true,
            StripeCallError::Api { status, .. } => matches!(status, 409 | 429) || *status >= 500,
        }
    }

    /// A card was refused (shown to the owner with what to do).
    pub fn is_card_error(&self) -> bool {
        matches!(self, StripeCallError::Api { kind, .. } if kind == "card_error")
    }

    /// The object does not exist at Stripe.
    pub fn is_missing(&self) -> bool {
        matches!(self, StripeCallError::Api { status: 404, .. })
    }

    fn from_stripe(e: stripe::StripeError) -> Self {
        match e {
            stripe::StripeError::Stripe(api, status) => StripeCallError::Api {
                status,
                kind: api.type_.as_str().to_owned(),
                code: api.code.as_ref().map(|c| c.as_str().to_owned()),
                message: api
                    .message
                    .clone()
                    .unwrap_or_else(|| "no message".to_owned()),
            },
            stripe::StripeError::ClientError(m) => StripeCallError::Unreachable(m),
            stripe::StripeError::Timeout => {
                StripeCallError::Unreachable("no answer in time".to_owned())
            }
            stripe::StripeError::JSONDeserialize(m) => StripeCallError::Unreadable(m),
            stripe::StripeError::ConfigError(m) => StripeCallError::Unreadable(m),
        }
    }
}

/// Hands requests to async-stripe's client and keeps the raw answer.
struct Capture<'a> {
    inner: &'a stripe::Client,
    body: Mutex<Option<bytes::Bytes>>,
}

impl StripeClient for Capture<'_> {
    type Err = stripe::StripeError;

    async fn execute(&self, req: CustomizedStripeRequest) -> Result<bytes::Bytes, Self::Err> {
        let bytes = self.inner.execute(req).await?;
        if let Ok(mut slot) = self.body.lock() {
            *slot = Some(bytes.clone());
        }
        Ok(bytes)
    }
}

/// The platform's Stripe client. Cheap to clone.
#[derive(Clone)]
pub struct Stripe {
    client: Option<stripe::Client>,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("configured", &self.client.is_some())
            .finish()
    }
}

impl Stripe {
    /// A client for `api_base` with the secret key; unconfigured when there is no key.
    /// The configuration has checked both (an http(s) URL, a key of visible ASCII), so
    /// async-stripe's builder has nothing left to refuse; if it still does, billing runs
    /// unconfigured and says so in the log.
    pub fn new(secret_key: Option<&secrecy::SecretString>, api_base: &url::Url) -> Stripe {
        let Some(key) = secret_key else {
            return Stripe { client: None };
        };
        match stripe::ClientBuilder::new(secrecy::ExposeSecret::expose_secret(key))
            .url(api_base.as_str())
            .timeout(ATTEMPT_TIMEOUT)
            .request_strategy(RequestStrategy::Once)
            .build()
        {
            Ok(client) => Stripe {
                client: Some(client),
            },
            Err(error) => {
                tracing::error!(%error, "the Stripe client could not be set up; billing is off");
                Stripe { client: None }
            }
        }
    }

    /// Whether a key is configured.
    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    /// Sends a request and decodes the answer into `T`. POSTs carry `idempotency_key`
    /// (derived from our own ids by the caller); GET and DELETE are idempotent by definition
    /// and Stripe ignores keys on them.
    pub async fn send<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeCallError> {
        let client = self.client.as_ref().ok_or(StripeCallError::NotConfigured)?;
        let path = request.path.clone();
        let strategy = match idempotency_key {
            Some(key) => RequestStrategy::Idempotent(
                IdempotencyKey::new(key)
                    .map_err(|e| StripeCallError::Unreadable(format!("idempotency key: {e}")))?,
            ),
            None => RequestStrategy::Once,
        };
        let capture = Capture {
            inner: client,
            body: Mutex::new(None),
        };
        let started = std::time::Instant::now();
        let sent = request
            .customize::<miniserde::json::Value>()
            .request_strategy(strategy)
            .send(&capture)
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = sent {
            let error = StripeCallError::from_stripe(e);
            tracing::warn!(%path, elapsed_ms, %error, "Stripe call failed");
            return Err(error);
        }
        tracing::debug!(%path, elapsed_ms, "Stripe call");
        let bytes = capture
            .body
            .lock()
            .ok()
            .and_then(|mut b| b.take())
            .ok_or_else(|| StripeCallError::Unreadable("empty answer".to_owned()))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| StripeCallError::Unreadable(format!("{path}: {e}")))
    }
}

/// An idempotency key from our ids: `<what>:<id>[:<more>]`, within Stripe's 255 characters.
pub fn idempotency_key(parts: &[&str]) -> String {
    let mut key = parts.join(":");
    key.truncate(255);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_api_version_is_the_one_async_stripe_sends() {
        assert_eq!(stripe_client_core::VERSION.as_str(), STRIPE_API_VERSION);
    }

    #[test]
    fn transient_errors_are_those_worth_a_retry() {
        let api = |status| StripeCallError::Api {
            status,
            kind: "invalid_request_error".into(),
            code: None,
            message: String::new(),
        };
        assert!(api(500).is_transient());
        assert!(api(429).is_transient());
        assert!(!api(400).is_transient());
        assert!(!api(404).is_transient());
        assert!(StripeCallError::Unreachable("x".into()).is_transient());
        assert!(!StripeCallError::NotConfigured.is_transient());
    }
}
