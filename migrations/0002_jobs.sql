-- The durable job queue (crate job-queue). One row per job, kept after it finishes so the
-- jobs page can list history; `Queue::prune` deletes old finished rows.
CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    kind             text        NOT NULL,
    payload          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- queued: waiting for run_at; running: leased by locked_by until locked_until;
    -- failed: last attempt failed, retried at run_at; dead: out of attempts or a permanent
    -- error; succeeded / cancelled: finished.
    state            text        NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_at           timestamptz NOT NULL DEFAULT now(),
    locked_by        text,
    locked_until     timestamptz,
    last_error       text,
    progress_step    integer     NOT NULL DEFAULT 0,
    progress_total   integer     NOT NULL DEFAULT 0,
    progress_label   text        NOT NULL DEFAULT '',
    cancel_requested boolean     NOT NULL DEFAULT false,
    tenant_id        uuid,
    dedupe_key       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);

-- Claims: due jobs in run_at order, and running jobs whose lease has expired.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('queued', 'failed');
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE state = 'running';
-- A dedupe key is unique among unfinished jobs only.
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running', 'failed');
-- The jobs page: newest first, filtered by state, kind or tenant, keyset-paginated.
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_state_created ON jobs (state, created_at DESC, id DESC);
CREATE INDEX jobs_kind_created ON jobs (kind, created_at DESC, id DESC);
CREATE INDEX jobs_tenant_created ON jobs (tenant_id, created_at DESC, id DESC) WHERE tenant_id IS NOT NULL;

-- Wake idle workers (channel job_queue) when jobs are inserted. Statement-level, with an
-- empty payload, so a bulk insert or a transaction enqueueing many jobs sends one
-- notification (PostgreSQL folds identical notifications within a transaction).
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('job_queue', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();
