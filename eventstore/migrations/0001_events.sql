-- The event log: append-only, hash-chained case histories.
-- Applied by eventstore.migrate inside one transaction, under an advisory lock.

DO $$
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'the event store needs a UTF8 database, found %',
            current_setting('server_encoding');
    END IF;
END $$;

-- The application's role: may read and append, never change or remove (see GRANTs below).
-- Roles are cluster-wide, so another database of the same server may have made it already.
DO $$
BEGIN
    CREATE ROLE drugfree_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

CREATE TABLE events (
    -- Global order: transaction id * 65536 + index in the append (see eventstore_append).
    position       bigint      PRIMARY KEY,
    stream         text        COLLATE "C" NOT NULL,
    version        integer     NOT NULL CHECK (version > 0),
    event_id       text        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    recorded_at    timestamptz NOT NULL,
    canonical      bytea       NOT NULL,  -- the exact bytes that were hashed
    payload        jsonb       NOT NULL,  -- a copy for queries only; jsonb rewrites documents
    hash           bytea       NOT NULL CHECK (length(hash) = 32),
    prev_hash      bytea       NOT NULL CHECK (length(prev_hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- One row per stream, written with its first event, so streams(prefix) needs no scan.
CREATE TABLE streams (
    stream         text        COLLATE "C" PRIMARY KEY,
    created_at     timestamptz NOT NULL,
    first_position bigint      NOT NULL
);

CREATE FUNCTION eventstore_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the event log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- A stream is registered by its first event, whichever statement wrote it.
CREATE FUNCTION eventstore_register_stream() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO streams (stream, created_at, first_position)
    VALUES (NEW.stream, NEW.recorded_at, NEW.position);
    RETURN NULL;
END $$;

CREATE TRIGGER events_register_stream AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.version = 1) EXECUTE FUNCTION eventstore_register_stream();

-- Defence in depth behind the privileges: even the owner cannot change rows by accident.
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER streams_append_only BEFORE UPDATE OR DELETE ON streams
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER streams_no_truncate BEFORE TRUNCATE ON streams
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();

CREATE FUNCTION eventstore_fail(code text, message text) RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END $$;

-- Positions and ordering, for both append functions below:
-- position = transaction id * 65536 + index in the append. The stream's head is read before
-- the transaction gets its id, so if the previous event had committed, this transaction's id
-- is larger: positions grow with versions in a stream. Readers treat positions below
-- pg_snapshot_xmin * 65536 as final, since any transaction that may still commit has an id
-- at or above xmin. Both hold only if no earlier write gave the transaction its id already.
--
-- Python passes the JCS forms of the stream, types and payloads; the functions add version,
-- time and previous hash, splicing one JCS document per event in key order.

-- Append a batch to one stream in one call (atomic, one round trip).
CREATE FUNCTION eventstore_append(
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
) LANGUAGE plpgsql AS $fn$
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

-- The same for one event as a single INSERT ... SELECT: single appends are the common case,
-- and this costs the server about a quarter less than the loop above. The CASE raises
-- through eventstore_fail only on its branch.
CREATE FUNCTION eventstore_append_one(
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
) LANGUAGE sql AS $fn$
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

REVOKE ALL ON events, streams FROM PUBLIC;
GRANT SELECT, INSERT ON events, streams TO drugfree_app;
