-- Published plan versions (phiên bản kế hoạch): each plan id's versions, numbered from 1,
-- stored as the exact canonical JSON (RFC 8785) of the plan with its criteria and rule sets
-- embedded, so the content hash can be recomputed from the row. A case pins the version it
-- started with (its start carries the whole plan); a new version only changes new cases.
--
-- source: 'catalogue' (a plan file of the catalogue, registered when the front door starts)
--         or 'published' (drugfree plans publish / POST /plans, by published_by).
-- Rows are never changed or removed: the application role may only read and add.

CREATE TABLE plan_versions (
    plan_id      text        COLLATE "C" NOT NULL,
    version      integer     NOT NULL CHECK (version >= 1),
    content_hash text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    document     text        NOT NULL,
    source       text        NOT NULL CHECK (source IN ('catalogue', 'published')),
    published_by jsonb,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, version),
    UNIQUE (plan_id, content_hash)
);

REVOKE ALL ON plan_versions FROM PUBLIC;
GRANT SELECT, INSERT ON plan_versions TO drugfree_app;
