-- What the pipeline learns and does for each event: the facts it gathered,
-- the step journal that makes every CRM create recoverable, and the links
-- that keep read-your-writes across restarts while CRM search lags.

ALTER TABLE events ADD COLUMN facts TEXT;
ALTER TABLE events ADD COLUMN finished_at TEXT;

-- One row per step of an event's plan. A create records its intent (the step
-- key) before the request and the CRM id after it: a row with an intent and
-- no id is a create in doubt, reconciled by looking the key up.
CREATE TABLE steps (
    step_key    TEXT    PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    position    INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    object_kind TEXT,
    outcome     TEXT    NOT NULL,
    crm_id      TEXT,
    detail      TEXT,
    intent_at   TEXT    NOT NULL,
    done_at     TEXT
);

CREATE INDEX steps_by_event ON steps (event_id, position);

-- What the CRM holds for what Ringostat knows: a client number's contact, a
-- contact's open deal, a Ringostat call's logged call.
CREATE TABLE links (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    crm_id     TEXT    NOT NULL,
    event_id   INTEGER,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (kind, key)
);
