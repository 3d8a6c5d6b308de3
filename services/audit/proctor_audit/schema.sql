-- The audit store. audit.events is append-only (triggers refuse UPDATE, DELETE and TRUNCATE) and
-- hash-chained; the projections are folds of it, each with the stream sequence it reached.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE IF NOT EXISTS audit.events (
    seq             bigint PRIMARY KEY,        -- JetStream stream sequence
    stored_at       timestamptz NOT NULL,      -- when the stream stored it
    subject         text NOT NULL,
    type            text NOT NULL,             -- payload type, 'unknown' or 'undecodable'
    event_id        text NOT NULL,
    session_id      text NOT NULL,
    command_id      text NOT NULL,
    occurred_at     timestamptz,
    schema_version  integer NOT NULL,          -- as written, before upcasting
    payload         bytea NOT NULL,            -- the message exactly as on the stream
    body            jsonb,                     -- the upcast event; NULL when undecodable
    error           text,                      -- why it could not be decoded
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON audit.events (session_id, seq);
CREATE INDEX IF NOT EXISTS events_command ON audit.events (command_id, seq) WHERE command_id <> '';
CREATE INDEX IF NOT EXISTS events_event_id ON audit.events (event_id);

CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'The audit store keeps every event; nothing may be edited or removed.';
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_append_only') THEN
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
            FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_no_truncate') THEN
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
            FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS audit.checkpoints (
    projection  text PRIMARY KEY,
    seq         bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.sessions (
    session_id      text PRIMARY KEY,
    human           text NOT NULL,
    agent           text NOT NULL,
    groups          text[] NOT NULL,
    resource        text NOT NULL,
    resource_kind   text NOT NULL,
    protocol        text NOT NULL,
    client_address  text NOT NULL,
    client_name     text NOT NULL,
    opened_at       timestamptz,
    closed_at       timestamptz,
    close_reason    text NOT NULL,
    command_count   bigint NOT NULL,
    last_seq        bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.commands (
    command_id      text PRIMARY KEY,
    session_id      text NOT NULL,
    human           text NOT NULL,
    agent           text NOT NULL,
    resource        text NOT NULL,
    text            text NOT NULL,
    status          text NOT NULL,
    action          text NOT NULL,
    rule_ids        text[] NOT NULL,
    reasons         text[] NOT NULL,
    policy_version  text NOT NULL,
    approval_id     text NOT NULL,
    approver        text NOT NULL,
    note            text NOT NULL,
    row_count       bigint,
    duration_us     bigint,
    error_code      text NOT NULL,
    error_message   text NOT NULL,
    values_masked   bigint NOT NULL,
    received_at     timestamptz,
    updated_at      timestamptz,
    timeline        jsonb NOT NULL,
    last_seq        bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_session ON audit.commands (session_id, last_seq);

CREATE TABLE IF NOT EXISTS audit.approvals (
    approval_id     text PRIMARY KEY,
    command_id      text NOT NULL,
    session_id      text NOT NULL,
    human           text NOT NULL,
    agent           text NOT NULL,
    resource        text NOT NULL,
    status          text NOT NULL,
    command_text    text NOT NULL,
    command_hash    text NOT NULL,
    rule_ids        text[] NOT NULL,
    reason          text NOT NULL,
    approver_groups text[] NOT NULL,
    requested_at    timestamptz,
    expires_at      timestamptz,
    approver        text NOT NULL,
    note            text NOT NULL,
    decided_at      timestamptz,
    last_seq        bigint NOT NULL,
    mode            text NOT NULL DEFAULT 'wait',
    redeemed_by     text NOT NULL DEFAULT '',
    redeemed_at     timestamptz,
    parameters      text[] NOT NULL DEFAULT '{}'
);
-- Columns added after the first release, for stores created before them.
ALTER TABLE audit.approvals ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'wait';
ALTER TABLE audit.approvals ADD COLUMN IF NOT EXISTS redeemed_by text NOT NULL DEFAULT '';
ALTER TABLE audit.approvals ADD COLUMN IF NOT EXISTS redeemed_at timestamptz;
ALTER TABLE audit.approvals ADD COLUMN IF NOT EXISTS parameters text[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS approvals_session ON audit.approvals (session_id);
