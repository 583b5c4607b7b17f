//! `Idempotency-Key` on the API's mutations (POST, PATCH, PUT, DELETE).
//!
//! The first successful (2xx) answer to a key is stored for [`KEY_LIFETIME_HOURS`] and
//! replayed, byte for byte with `Idempotent-Replayed: true`, to every retry of the same
//! request; the work is done once. The same key with a different request is refused (422),
//! and a retry that arrives while the first request still runs is told to wait (409).
//! Answers other than 2xx are not stored: the key is released and a retry runs afresh.
//!
//! The answer is stored after the handler's own transaction has committed. If the process
//! dies in between, the key's lease expires and a retry runs the request again, where the
//! handlers' own rules (unique slugs, the tenant state machine) refuse a second effect.
//!
//! The token is checked before anything else: a request without a valid token goes on to
//! its handler (which refuses it) with its body unread and nothing stored, and a revoked
//! token gets no replay. Each claim of a key has its own `holder` id: a request whose lease
//! ran out and was taken over by a retry neither stores its answer over the retry's nor
//! releases the key the retry now holds.

use super::{ApiClient, ApiError, ApiState};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long a stored answer is replayed.
pub const KEY_LIFETIME_HOURS: i32 = 24;
/// How long a running request holds its key before a retry may take it over.
const LEASE_SECONDS: i32 = 60;
/// The largest request body the layer reads (API bodies are small JSON documents).
const MAX_BODY: usize = 1024 * 1024;

/// What the stored row says about a key.
#[derive(sqlx::FromRow)]
struct StoredKey {
    request_sha256: Vec<u8>,
    status: Option<i16>,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<Vec<u8>>,
    locked: bool,
    expired: bool,
}

fn is_mutation(method: &Method) -> bool {
    [Method::POST, Method::PATCH, Method::PUT, Method::DELETE].contains(method)
}

/// A key is 1 to 255 visible ASCII characters (a UUID is the usual choice).
fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

fn invalid_key() -> Response {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "idempotency_key_invalid",
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID, say).",
    )
    .into_response()
}

fn internal(error: sqlx::Error) -> Response {
    ApiError::from(crate::service::ServiceError::from(error)).into_response()
}

/// The layer: wraps every `/api/v1` route.
pub async fn layer(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if !is_mutation(request.method()) {
        return next.run(request).await;
    }
    let Some(raw_key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let Some(key) = raw_key.to_str().ok().filter(|k| valid_key(k)) else {
        return invalid_key();
    };
    let key = key.to_owned();
    // Authenticated first: without a valid token the handler refuses the request anyway,
    // so its body is not read, nothing is remembered, and nothing stored is replayed.
    if ApiClient::authenticate(&state, request.headers())
        .await
        .is_err()
    {
        return next.run(request).await;
    }
    let Some(client) = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| Sha256::digest(v.as_bytes()).to_vec())
    else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "The request body is larger than 1 MiB.",
            )
            .into_response()
        }
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let pool = &state.platform.pool;
    let holder = match claim(pool, &client, &key, &fingerprint).await {
        Ok(Claim::Run(holder)) => holder,
        Ok(Claim::Answer(response)) => return response,
        Err(e) => return internal(e),
    };
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    finish(pool, &client, &key, holder, response).await
}

/// sha256 of everything that makes two requests the same request.
fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &Bytes) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(uri.path_and_query().map_or("", |p| p.as_str()).as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().to_vec()
}

enum Claim {
    /// This request holds the key, as this holder: run it.
    Run(Uuid),
    /// Answer with this instead (a replay or a refusal).
    Answer(Response),
}

async fn claim(
    pool: &PgPool,
    client: &[u8],
    key: &str,
    fingerprint: &[u8],
) -> Result<Claim, sqlx::Error> {
    let holder = Uuid::new_v4();
    // Twice at most: a row that expires or vanishes between the insert and the read is
    // gone, and the second insert decides.
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO api_idempotency (client_sha256, key, request_sha256, locked_until, holder) \
             VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5) ON CONFLICT DO NOTHING",
        )
        .bind(client)
        .bind(key)
        .bind(fingerprint)
        .bind(f64::from(LEASE_SECONDS))
        .bind(holder)
        .execute(pool)
        .await?;
        if inserted.rows_affected() == 1 {
            forget_old_keys_now_and_then(pool).await;
            return Ok(Claim::Run(holder));
        }
        let stored: Option<StoredKey> = sqlx::query_as(
            "SELECT request_sha256, status, content_type, location, body, \
                    coalesce(locked_until > now(), false) AS locked, \
                    created_at < now() - make_interval(hours => $3) AS expired \
             FROM api_idempotency WHERE client_sha256 = $1 AND key = $2",
        )
        .bind(client)
        .bind(key)
        .bind(KEY_LIFETIME_HOURS)
        .fetch_optional(pool)
        .await?;
        let Some(stored) = stored else { continue };
        if stored.expired {
            sqlx::query(
                "DELETE FROM api_idempotency WHERE client_sha256 = $1 AND key = $2 \
                   AND created_at < now() - make_interval(hours => $3)",
            )
            .bind(client)
            .bind(key)
            .bind(KEY_LIFETIME_HOURS)
            .execute(pool)
            .await?;
            continue;
        }
        if stored.request_sha256 != fingerprint {
            return Ok(Claim::Answer(
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used for a different request; use a new key for a new request.",
                )
                .into_response(),
            ));
        }
        if let Some(status) = stored.status {
            return Ok(Claim::Answer(replay(status, stored)));
        }
        if !stored.locked {
            // The first holder died without an answer: this retry takes the key over.
            let taken = sqlx::query(
                "UPDATE api_idempotency SET locked_until = now() + make_interval(secs => $3), \
                        holder = $4 \
                 WHERE client_sha256 = $1 AND key = $2 AND status IS NULL \
                   AND (locked_until IS NULL OR locked_until <= now())",
            )
            .bind(client)
            .bind(key)
            .bind(f64::from(LEASE_SECONDS))
            .bind(holder)
            .execute(pool)
            .await?;
            if taken.rows_affected() == 1 {
                return Ok(Claim::Run(holder));
            }
        }
        return Ok(Claim::Answer(in_progress()));
    }
    Ok(Claim::Answer(in_progress()))
}

fn in_progress() -> Response {
    let mut response = ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still running; retry in a moment.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn replay(status: i16, stored: StoredKey) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(stored.body.unwrap_or_default()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// Stores a 2xx answer for replays; releases the key for any other answer. Either only
/// while `holder` still holds the key: a retry that took it over owns it now.
async fn finish(
    pool: &PgPool,
    client: &[u8],
    key: &str,
    holder: Uuid,
    response: Response,
) -> Response {
    let status = response.status();
    if !status.is_success() {
        match sqlx::query(
            "DELETE FROM api_idempotency WHERE client_sha256 = $1 AND key = $2 \
               AND holder = $3 AND status IS NULL",
        )
        .bind(client)
        .bind(key)
        .bind(holder)
        .execute(pool)
        .await
        {
            Ok(done) if done.rows_affected() == 0 => {
                tracing::warn!("an idempotency key was taken over before its request ended; left to the request holding it");
            }
            Ok(_) => {}
            // The lease runs out on its own; a retry then runs the request again.
            Err(error) => tracing::warn!(%error, "could not release an idempotency key"),
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::from(crate::service::ServiceError::Internal(format!(
                "reading an API answer to store it: {error}"
            )))
            .into_response()
        }
    };
    let text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let stored = sqlx::query(
        "UPDATE api_idempotency SET status = $3, content_type = $4, location = $5, body = $6, \
                locked_until = NULL \
         WHERE client_sha256 = $1 AND key = $2 AND holder = $7 AND status IS NULL",
    )
    .bind(client)
    .bind(key)
    .bind(i16::try_from(status.as_u16()).unwrap_or(200))
    .bind(text(header::CONTENT_TYPE))
    .bind(text(header::LOCATION))
    .bind(body.as_ref())
    .bind(holder)
    .execute(pool)
    .await;
    match stored {
        Ok(done) if done.rows_affected() == 0 => {
            // A retry took the key over when this request outlived its lease: the retry's
            // answer is the one kept.
            tracing::warn!("an idempotency key was taken over before its request ended; its answer is not stored");
        }
        Ok(_) => {}
        // The work is done and the client gets its answer; only a replay is lost (a
        // retry after the lease then meets the handlers' own duplicate checks).
        Err(error) => tracing::warn!(%error, "could not store an API answer for replays"),
    }
    Response::from_parts(parts, Body::from(body))
}

/// Deletes answers past their lifetime, on about one claim in 256 (cheap: an index range).
async fn forget_old_keys_now_and_then(pool: &PgPool) {
    if rand::random::<u8>() != 0 {
        return;
    }
    if let Err(error) = sqlx::query(
        "DELETE FROM api_idempotency WHERE created_at < now() - make_interval(hours => $1)",
    )
    .bind(KEY_LIFETIME_HOURS)
    .execute(pool)
    .await
    {
        tracing::warn!(%error, "could not delete old idempotency keys");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_sensible_length() {
        assert!(valid_key("3f1c2a9e-7d4b-4c1e-9a57-0b6f3f0d2a11"));
        assert!(valid_key("a"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key("é"));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(valid_key(&"k".repeat(255)));
    }

    #[test]
    fn the_fingerprint_covers_method_path_query_and_body() {
        let uri: axum::http::Uri = "/api/v1/tenants?x=1".parse().expect("uri");
        let other: axum::http::Uri = "/api/v1/tenants?x=2".parse().expect("uri");
        let body = Bytes::from_static(b"{}");
        let base = fingerprint(&Method::POST, &uri, &body);
        assert_eq!(base, fingerprint(&Method::POST, &uri, &body));
        assert_ne!(base, fingerprint(&Method::DELETE, &uri, &body));
        assert_ne!(base, fingerprint(&Method::POST, &other, &body));
        assert_ne!(
            base,
            fingerprint(&Method::POST, &uri, &Bytes::from_static(b"{ }"))
        );
    }
}
