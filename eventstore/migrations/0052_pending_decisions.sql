-- Read model: the decisions someone must take now, one row per (case, item, awaited role).
-- Written by eventstore.projector in the same transaction as case_status (so the two always
-- stand at the same checkpoint) and rebuilt with it (drugfree db rebuild-projections).
--
-- kind: 'selection' (the selection role decides whether the commune is selected),
--       'level' (a level of the approval chain; subject = the level id),
--       'report' (a submission the commune owes; subject = the plan's deadline id),
--       'dossier' (the recognition dossier, due again after a rejection; subject = its
--                  deadline id).
-- since / due: plan calendar dates (Asia/Ho_Chi_Minh for every shipped plan) on the plain
-- calendar (PlanClock()): a case rehearsed on a shifted or compressed clock keeps the plan's
-- own dates here.

CREATE TABLE pending_decisions (
    stream        text    COLLATE "C" NOT NULL,
    kind          text    NOT NULL CHECK (kind IN ('selection', 'level', 'report', 'dossier')),
    subject       text    NOT NULL,
    role          text    NOT NULL,
    plan_id       text    NOT NULL,
    province_code text    NOT NULL,
    district_code text,
    commune_code  text    NOT NULL,
    round         integer,
    members       text[]  NOT NULL DEFAULT '{}',  -- quorum level: council members yet to vote
    since         date    NOT NULL,
    due           date    NOT NULL,
    position      bigint  NOT NULL,               -- the event that made it pending
    PRIMARY KEY (stream, kind, subject, role)
);

-- The inbox: a role's rows in its jurisdiction, oldest deadline first. Province roles read
-- (role, province); district roles add the district; the commune reads its own code.
CREATE INDEX pending_decisions_province ON pending_decisions (role, province_code, due, stream);
CREATE INDEX pending_decisions_district
    ON pending_decisions (role, province_code, district_code, due, stream);
CREATE INDEX pending_decisions_commune ON pending_decisions (role, commune_code, due, stream);
-- Auditors read every pending decision of their province.
CREATE INDEX pending_decisions_all ON pending_decisions (province_code, due, stream);

-- Case lists read case_status by plan (and state, and jurisdiction).
CREATE INDEX case_status_plan ON case_status (plan_id, province_code, district_code, stream);

-- The projector runs as the application role (in the worker) or as the owner (rebuild).
REVOKE ALL ON pending_decisions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON pending_decisions TO drugfree_app;
