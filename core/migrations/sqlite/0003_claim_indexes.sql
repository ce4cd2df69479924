-- Claims look only at unfinished events: the oldest unfinished event of each
-- client number is the only one of that number that may run. These partial
-- indexes keep a claim proportional to the backlog's distinct numbers, not to
-- the whole history of the inbox. Their WHERE must match the claim query's
-- `status IN (...)` term word for word, or SQLite will not use them.
CREATE INDEX events_unfinished
    ON events (id)
    WHERE status IN ('queued', 'processing', 'retrying', 'held', 'paused');

CREATE INDEX events_unfinished_by_phone
    ON events (client_phone, id)
    WHERE status IN ('queued', 'processing', 'retrying', 'held', 'paused');
