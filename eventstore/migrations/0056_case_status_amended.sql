-- Read model after amendments (văn bản sửa đổi, case.amended): a case moved onto the 2025 units
-- keeps its 2025 codes in province_code / district_code (NULL) / commune_code, so inboxes and
-- case lists of the new province find it; the codes it was opened with stay here (set only
-- when the structure switched). amendments: the ids applied to the case, in order (readers
-- rebuild the plan the case runs on from the stored documents, migration 0055).
-- Rebuilt with the rest of the read model (drugfree db rebuild-projections).

ALTER TABLE case_status
    ADD COLUMN legacy_district_code text,
    ADD COLUMN legacy_commune_code  text,
    ADD COLUMN amendments           text[] NOT NULL DEFAULT '{}';

-- The dashboard of a merged plan groups cases by their former district.
CREATE INDEX case_status_legacy ON case_status (plan_id, legacy_district_code)
    WHERE legacy_district_code IS NOT NULL;
