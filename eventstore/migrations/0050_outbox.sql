-- Notification outbox: rows written in the same transaction as the events that caused them,
-- delivered later by activities.notify.dispatcher (at least once, one row per channel).

CREATE TABLE outbox (
    -- "<append key>:<notice index>:<channel>": a retried append inserts nothing new.
    id              text        COLLATE "C" PRIMARY KEY,
    case_id         text        NOT NULL,
    template        text        NOT NULL,
    to_role         text        NOT NULL,
    params          jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- codes, dates, counts only
    channel         text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);

-- The dispatcher's only query: due, undelivered rows. Delivered rows drop out of the index.
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- The app enqueues and marks delivery; it keeps the history (no DELETE).
REVOKE ALL ON outbox FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON outbox TO drugfree_app;
