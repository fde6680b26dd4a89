-- Read model: one row per case, derived from events by eventstore.projector and rebuildable
-- from them at any time (drugfree db rebuild-projections).

CREATE TABLE case_status (
    stream                text        COLLATE "C" PRIMARY KEY,
    plan_id               text,
    province_code         text,
    district_code         text,
    commune_code          text,
    state                 text        NOT NULL,
    phase                 integer,
    phase_starts_on       date,
    phase_ends_on         date,
    round                 integer,
    pending_level         text,
    last_rejection_reason text,
    last_metrics          jsonb,
    last_classification   text,
    missed_deadlines      integer     NOT NULL DEFAULT 0,
    late_reports          integer     NOT NULL DEFAULT 0,
    closed                boolean     NOT NULL DEFAULT false,
    outcome               text,
    version               integer     NOT NULL,
    last_position         bigint      NOT NULL,
    updated_at            timestamptz NOT NULL
);

CREATE INDEX case_status_state ON case_status (state);

-- How far each follower has read the global log.
CREATE TABLE projection_checkpoints (
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);

REVOKE ALL ON case_status, projection_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON case_status, projection_checkpoints TO drugfree_app;
