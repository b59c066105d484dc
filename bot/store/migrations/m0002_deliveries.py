"""Deliveries: when a job's owner was shown its outcome, and which message shows it.

A finished job without a row here was not delivered yet (the bot stopped in between); the
bot delivers those at start-up.
"""

SQL = """
CREATE TABLE deliveries (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'failed', 'canceled', 'undeliverable')),
    channel_id TEXT,
    message_id TEXT,
    delivered_at REAL NOT NULL
);
CREATE INDEX deliveries_by_message ON deliveries (message_id)
"""
