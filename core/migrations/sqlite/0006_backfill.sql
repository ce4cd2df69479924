-- Where each event came from: its webhook, or Ringostat's call log
-- (`switchboard backfill`, reconciliation in `serve`). Every event stored
-- before this migration came by webhook.
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';

-- Leases on jobs that one instance at a time runs (reconciliation), and the
-- presence of running services: a row is live while `until` is ahead.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    until      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
