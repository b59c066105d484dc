"""Jobs: every generation job and where it stands, so none is lost to a restart."""

SQL = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'canceled')),
    request TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_by_owner ON jobs (owner, created_at)
"""
