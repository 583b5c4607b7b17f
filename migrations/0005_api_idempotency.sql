-- `Idempotency-Key` on the API's mutations: the first answer to a key is kept for a day and
-- replayed to every retry of the same request, so a client that lost the answer (timeout,
-- dropped connection) can send the request again without doing the work twice.

CREATE TABLE api_idempotency (
    -- sha256 of the caller's bearer token: keys of different clients never meet.
    client_sha256   bytea       NOT NULL,
    key             text        NOT NULL,
    -- sha256 of method, path, query and body: the same key with another request is refused.
    request_sha256  bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- While the first request runs, later ones wait for it (409); a holder that died
    -- leaves a lease that expires, and the next retry runs the request again.
    locked_until    timestamptz,
    -- The stored answer, once there is one.
    status          smallint,
    content_type    text,
    location        text,
    body            bytea,
    PRIMARY KEY (client_sha256, key)
);
CREATE INDEX api_idempotency_created_at ON api_idempotency (created_at);
