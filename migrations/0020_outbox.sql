-- Transactional email (server/src/mail): every message is first a row here, written in the
-- same transaction as the change that causes it, with a `mail.send` job that delivers it
-- over SMTP. A message is rendered when it is queued, so what was sent is what the change
-- described; `message_id` is fixed per row, so a resend after a crash carries the same
-- Message-ID header and the recipient's mail client can recognise it.
CREATE TABLE outbox (
    id              uuid        PRIMARY KEY,
    -- Which template made it, e.g. 'tenant_welcome', 'verify_email'.
    template        text        NOT NULL,
    to_address      text        NOT NULL,
    to_name         text,
    subject         text        NOT NULL,
    body_text       text        NOT NULL,
    body_html       text        NOT NULL,
    -- `<uuid@domain>`, the same on every attempt.
    message_id      text        NOT NULL CONSTRAINT outbox_message_id_key UNIQUE,
    -- queued: waiting for its job; failed: the last attempt failed, retried with backoff;
    -- sent: the SMTP server accepted it; dead: out of attempts or refused for good.
    state           text        NOT NULL DEFAULT 'queued'
                                CHECK (state IN ('queued', 'failed', 'sent', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    -- The SMTP server's answer to the accepted message (e.g. its queue id).
    smtp_response   text,
    -- The mail.send job delivering it (retried from the Outbox page).
    job_id          uuid,
    -- Messages holding a one-time link (verification, password reset): their bodies are
    -- blanked once sent, and the Outbox page never shows them.
    sensitive       boolean     NOT NULL DEFAULT false,
    tenant_id       uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
-- The Outbox page: newest first, optionally one state.
CREATE INDEX outbox_created ON outbox (created_at DESC, id DESC);
CREATE INDEX outbox_state_created ON outbox (state, created_at DESC, id DESC);
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at DESC) WHERE tenant_id IS NOT NULL;
