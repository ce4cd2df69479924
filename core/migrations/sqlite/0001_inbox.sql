-- The inbox: every accepted webhook, exactly once per (call id, event kind),
-- with everything the later stages (worker, executor, replay) need.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id          TEXT    NOT NULL,
    event_kind       TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    status_reason    TEXT,
    received_at      TEXT    NOT NULL,
    client_phone     TEXT,
    raw_method       TEXT    NOT NULL,
    raw_query        TEXT    NOT NULL,
    raw_content_type TEXT,
    raw_body         BLOB    NOT NULL,
    event            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    lease_owner      TEXT,
    lease_until      TEXT,
    last_error       TEXT,
    plan             TEXT,
    rules_version    TEXT,
    updated_at       TEXT    NOT NULL,
    UNIQUE (call_id, event_kind)
);

CREATE INDEX events_by_status ON events (status, next_attempt_at, id);
CREATE INDEX events_by_client_phone ON events (client_phone, id);

-- Authenticated payloads that could not be decoded, once per distinct payload.
CREATE TABLE rejected_payloads (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    payload_hash     TEXT    NOT NULL UNIQUE,
    raw_method       TEXT    NOT NULL,
    raw_query        TEXT    NOT NULL,
    raw_content_type TEXT,
    raw_body         BLOB    NOT NULL,
    reason           TEXT    NOT NULL,
    count            INTEGER NOT NULL DEFAULT 1,
    first_seen_at    TEXT    NOT NULL,
    last_seen_at     TEXT    NOT NULL
);
