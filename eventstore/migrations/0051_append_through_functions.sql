-- The application role appends only through the append functions, never by a bare INSERT:
-- a row it wrote itself could carry any chain it liked, which verify would then accept.
-- The functions run as their owner (SECURITY DEFINER) and derive version, previous hash,
-- canonical bytes and hash themselves from the stream's stored head.

REVOKE ALL ON events, streams FROM drugfree_app;
GRANT SELECT ON events, streams TO drugfree_app;

-- The outbox: the app enqueues and the dispatcher claims and marks delivery; no other column
-- is ever rewritten, and rows are never deleted.
REVOKE ALL ON outbox FROM drugfree_app;
GRANT SELECT, INSERT ON outbox TO drugfree_app;
GRANT UPDATE (attempts, next_attempt_at, delivered_at, last_error) ON outbox TO drugfree_app;

-- A worker checks that every migration is applied before it starts (eventstore.migrate).
GRANT SELECT ON schema_migrations TO drugfree_app;

-- The JCS pieces Python passes are spliced into the hashed document: each must be a single
-- JSON value saying exactly what its column says, or a crafted piece such as
-- '"a","version":9' would put keys into the hashed bytes that the row's columns do not have.
-- Stream names and types have no control characters (eventstore.canonical.check_name), so
-- JCS and PostgreSQL quote them identically. A payload is a single value already: its text
-- is cast to jsonb for the query copy, and the insert fails if that cast does.
CREATE OR REPLACE FUNCTION eventstore_append(
    p_stream text,
    p_stream_json text,
    p_expected integer,
    p_ids text[],
    p_types text[],
    p_type_jsons text[],
    p_schema_versions integer[],
    p_payloads text[]
) RETURNS TABLE (
    out_position bigint, out_version integer, out_recorded_at timestamptz,
    out_hash bytea, out_prev_hash bytea
) LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    n integer := cardinality(p_ids);
    at timestamptz := now();
    at_text text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    prev bytea;
    base bigint;
    canon bytea;
    canons bytea[] := '{}';
    hashes bytea[] := '{}';
    prevs bytea[] := '{}';
BEGIN
    IF n IS NULL OR n NOT BETWEEN 1 AND 65535 THEN
        RAISE EXCEPTION 'an append carries 1 to 65535 events' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_types) IS DISTINCT FROM n OR cardinality(p_type_jsons) IS DISTINCT FROM n
       OR cardinality(p_schema_versions) IS DISTINCT FROM n
       OR cardinality(p_payloads) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'an append needs as many types, versions and payloads as ids'
            USING ERRCODE = '22023';
    END IF;
    IF p_stream_json IS DISTINCT FROM to_jsonb(p_stream)::text THEN
        RAISE EXCEPTION 'stream JSON does not spell the stream' USING ERRCODE = '22023';
    END IF;
    FOR i IN 1..n LOOP
        IF p_type_jsons[i] IS DISTINCT FROM to_jsonb(p_types[i])::text THEN
            RAISE EXCEPTION 'type JSON does not spell the type' USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'eventstore_append must be the first write of its transaction'
            USING ERRCODE = 'DF002';
    END IF;
    IF p_expected = 0 THEN
        prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    ELSE
        SELECT e.hash INTO prev FROM events e
         WHERE e.stream = p_stream AND e.version = p_expected;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'stream % has no version %', p_stream, p_expected
                USING ERRCODE = 'DF001';
        END IF;
    END IF;
    base := pg_current_xact_id()::text::bigint * 65536;  -- after the head was read

    FOR i IN 1..n LOOP  -- each hash covers the previous one: a sequential chain
        canon := convert_to(
            '{"payload":' || p_payloads[i]
            || ',"prev_hash":"' || encode(prev, 'hex')
            || '","recorded_at":"' || at_text
            || '","schema_version":' || p_schema_versions[i]
            || ',"stream":' || p_stream_json
            || ',"type":' || p_type_jsons[i]
            || ',"version":' || (p_expected + i) || '}',
            'UTF8');
        canons[i] := canon;
        prevs[i] := prev;
        prev := sha256('\x00'::bytea || canon);
        hashes[i] := prev;
    END LOOP;

    RETURN QUERY
    INSERT INTO events AS e (position, stream, version, event_id, type, schema_version,
                             recorded_at, canonical, payload, hash, prev_hash)
    SELECT base + u.i, p_stream, p_expected + u.i::integer, u.id, u.type, u.sv, at, u.canon,
           u.payload::jsonb, u.hash, u.prev
      FROM unnest(p_ids, p_types, p_schema_versions, p_payloads, canons, hashes, prevs)
           WITH ORDINALITY AS u(id, type, sv, payload, canon, hash, prev, i)
    RETURNING e.position, e.version, e.recorded_at, e.hash, e.prev_hash;
END $fn$;

-- One event: the same checks as CASE branches in front of the head lookup (see 0001).
CREATE OR REPLACE FUNCTION eventstore_append_one(
    p_stream text,
    p_stream_json text,
    p_expected integer,
    p_id text,
    p_type text,
    p_type_json text,
    p_schema_version integer,
    p_payload text
) RETURNS TABLE (
    out_position bigint, out_recorded_at timestamptz, out_hash bytea, out_prev_hash bytea
) LANGUAGE sql SECURITY DEFINER AS $fn$
INSERT INTO events AS e (position, stream, version, event_id, type, schema_version,
                         recorded_at, canonical, payload, hash, prev_hash)
SELECT pg_current_xact_id()::text::bigint * 65536 + 1, p_stream, p_expected + 1, p_id, p_type,
       p_schema_version, now(), doc.canon, p_payload::jsonb,
       sha256('\x00'::bytea || doc.canon), doc.prev
  FROM (SELECT head.prev, convert_to(
               '{"payload":' || p_payload
               || ',"prev_hash":"' || encode(head.prev, 'hex')
               || '","recorded_at":"'
               || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
               || '","schema_version":' || p_schema_version
               || ',"stream":' || p_stream_json
               || ',"type":' || p_type_json
               || ',"version":' || (p_expected + 1) || '}',
               'UTF8') AS canon
          FROM (SELECT CASE
                  WHEN p_stream_json IS DISTINCT FROM to_jsonb(p_stream)::text
                    THEN eventstore_fail('22023', 'stream JSON does not spell the stream')
                  WHEN p_type_json IS DISTINCT FROM to_jsonb(p_type)::text
                    THEN eventstore_fail('22023', 'type JSON does not spell the type')
                  WHEN pg_current_xact_id_if_assigned() IS NOT NULL
                    THEN eventstore_fail('DF002',
                                   'eventstore_append must be the first write of its transaction')
                  WHEN p_expected = 0
                    THEN '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                  ELSE coalesce(
                    (SELECT x.hash FROM events x
                      WHERE x.stream = p_stream AND x.version = p_expected),
                    eventstore_fail('DF001',
                                    format('stream %s has no version %s', p_stream, p_expected)))
                END AS prev) head) doc
RETURNING e.position, e.recorded_at, e.hash, e.prev_hash
$fn$;

-- A SECURITY DEFINER function must not resolve names through a path its caller controls
-- (a caller's temporary table named events would otherwise shadow ours): pin the schema the
-- tables were created in, with pg_temp last.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION eventstore_append(text, text, integer, text[], text[], '
                   'text[], integer[], text[]) SET search_path = pg_catalog, %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_append_one(text, text, integer, text, text, '
                   'text, integer, text) SET search_path = pg_catalog, %I, pg_temp',
                   current_schema());
END $$;

-- Only the application role (and the owner) may call them; eventstore_fail runs inside
-- them, as the owner.
REVOKE ALL ON FUNCTION
    eventstore_append(text, text, integer, text[], text[], text[], integer[], text[]),
    eventstore_append_one(text, text, integer, text, text, text, integer, text),
    eventstore_fail(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore_append(text, text, integer, text[], text[], text[], integer[], text[]),
    eventstore_append_one(text, text, integer, text, text, text, integer, text)
    TO drugfree_app;
