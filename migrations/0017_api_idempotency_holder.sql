-- Each claim of an Idempotency-Key gets its own holder id: a request whose lease ran out
-- and was taken over by a retry may neither store its answer over the retry's nor release
-- the key the retry now holds (finish is fenced by holder). NULL on keys claimed before.
ALTER TABLE api_idempotency ADD COLUMN holder uuid;
