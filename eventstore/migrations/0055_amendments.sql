-- Amendments (văn bản sửa đổi) applied to running cases: each kept once, as the exact
-- canonical JSON (RFC 8785) of the amendment document, so that readers (the front door's
-- access checks, the read model, the dashboard) can build the plan a case runs on after
-- its case.amended events without the file it came from. An id names one content forever.
-- Rows are never changed or removed: the application role may only read and add.

CREATE TABLE amendments (
    amendment_id text        COLLATE "C" PRIMARY KEY,
    content_hash text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    document     text        NOT NULL,
    applied_by   jsonb,
    kept_at      timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON amendments FROM PUBLIC;
GRANT SELECT, INSERT ON amendments TO drugfree_app;
