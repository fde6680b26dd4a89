-- Attachments (tệp đính kèm) of the commune's submissions, stored by the front door.
-- attachment_blobs: the bytes, once per SHA-256 (the same file sent twice, or to two cases, is
-- stored once); case_attachments: which case each file was uploaded to, so a download is
-- allowed by the case's jurisdiction and a submission may only name its own case's files.
-- The submission's event records each file's name, hash and size; the bytes stay here.
-- The application role adds and reads, never changes or removes (as the events).

CREATE TABLE attachment_blobs (
    sha256     text        COLLATE "C" PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size       bigint      NOT NULL CHECK (size > 0 AND size = octet_length(content)),
    content    bytea       NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE case_attachments (
    stream      text        COLLATE "C" NOT NULL,
    sha256      text        COLLATE "C" NOT NULL REFERENCES attachment_blobs (sha256),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    media_type  text        NOT NULL CHECK (length(media_type) BETWEEN 1 AND 127),
    uploaded_by text        NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, sha256)
);

REVOKE ALL ON attachment_blobs, case_attachments FROM PUBLIC;
GRANT SELECT, INSERT ON attachment_blobs, case_attachments TO drugfree_app;
