"""The outbox: finished jobs whose delivery Discord has not accepted yet, and when to retry.

A row exists from the first failed attempt until the job is delivered (or found
undeliverable), so retries go on with their backoff across restarts.
"""

SQL = """
CREATE TABLE outbox (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    first_attempt_at REAL NOT NULL
);
CREATE INDEX outbox_by_due ON outbox (next_at)
"""
