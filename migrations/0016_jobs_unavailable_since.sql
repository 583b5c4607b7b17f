-- A job whose dependency (Odoo, PostgreSQL) is unreachable keeps retrying without spending
-- attempts for a window of time (WorkerConfig::unavailable_window, JOB_OUTAGE_RETRY_MINUTES):
-- this is when the current outage began for the job (NULL when it is not waiting on one).
ALTER TABLE jobs ADD COLUMN unavailable_since timestamptz;
