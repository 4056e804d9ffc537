"""The PostgreSQL store's schema: versioned migrations, applied under an advisory lock.

Everything lives in the schema `ocsrun`. `ocsrun.schema_migrations` lists the versions
applied; `migrate` applies the missing ones in order, each in its own transaction, while
holding a session advisory lock (MIGRATION_LOCK), so two workstations upgrading at once apply
each migration exactly once. A migration is never edited once released: changes are a new
entry at the end of MIGRATIONS.

The journal is append-only twice over: operator roles get INSERT and SELECT only (see
`operator_grants`, documented in docs/team-mode.md), and a trigger refuses UPDATE, DELETE and
TRUNCATE on it for every role that is not allowed to drop the trigger (the owner can, which is
why operators should not connect as the owner).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocsrun.errors import StateError

if TYPE_CHECKING:
    import psycopg

SCHEMA = "ocsrun"


def _advisory_key(name: str) -> int:
    """A signed 64-bit advisory lock key derived from a name (pg advisory keys are bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


MIGRATION_LOCK = _advisory_key("ocsrun.schema-migrations")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    title: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, journal records, run files, lock holders",
        """
CREATE TABLE ocsrun.runs (
    run_id      text PRIMARY KEY,
    runbook_id  text NOT NULL,
    target      text,
    started     text NOT NULL,
    -- The RunInfo as JSON, written once. Never updated: status comes from the journal.
    info        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_newest_first ON ocsrun.runs (started DESC, run_id DESC);

-- Files kept with a run so it can be resumed anywhere: the runbook snapshot, source texts.
CREATE TABLE ocsrun.run_files (
    run_id   text NOT NULL REFERENCES ocsrun.runs (run_id),
    name     text NOT NULL,
    content  bytea NOT NULL,
    PRIMARY KEY (run_id, name)
);

-- One row per journal record. `line` is the record exactly as a local journal.jsonl holds it
-- (same JSON, same hash chain; no newline); seq, type and ts are copies for queries, checked
-- against the line by `runs verify`. The primary key is what stops two writers from both
-- appending record n to one run.
CREATE TABLE ocsrun.journal (
    run_id        text NOT NULL REFERENCES ocsrun.runs (run_id),
    seq           integer NOT NULL CHECK (seq >= 1),
    type          text NOT NULL,
    ts            text NOT NULL,
    line          text NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq)
);

CREATE FUNCTION ocsrun.refuse_journal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ocsrun.journal is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON ocsrun.journal
    FOR EACH ROW EXECUTE FUNCTION ocsrun.refuse_journal_change();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON ocsrun.journal
    FOR EACH STATEMENT EXECUTE FUNCTION ocsrun.refuse_journal_change();

-- Who holds which run lock, for the "held by" message. The lock itself is an advisory lock
-- held by the run's own session; a row counts only while that session holds the lock.
CREATE TABLE ocsrun.lock_holders (
    lock_key     bigint PRIMARY KEY,
    runbook_id   text NOT NULL,
    target       text,
    run_id       text NOT NULL,
    operator     text NOT NULL,
    host         text NOT NULL,
    pid          integer NOT NULL,
    started      text NOT NULL,
    backend_pid  integer NOT NULL
);
""",
    ),
    Migration(
        2,
        "run heads: each run's record count and last hash, kept by the server",
        """
-- Each run's journal head, written by a trigger in the same transaction as every record, so
-- the journal cannot lose its last records unnoticed: `runs verify` compares it with the
-- rows. Operators only read it (the trigger runs with its owner's rights); `runs list` reads
-- a run's state from it instead of looking up each run's last record.
CREATE TABLE ocsrun.run_heads (
    run_id     text PRIMARY KEY REFERENCES ocsrun.runs (run_id),
    records    integer NOT NULL,  -- the highest seq committed
    head       text,              -- that record's hash (NULL: its line is not JSON)
    last_type  text NOT NULL,
    last_ts    text NOT NULL,
    last_step  text               -- its data's step, if any
);

-- A stored line's hash and step; NULLs for a line that is not a JSON object. For the rows
-- recorded before this migration only: new rows are JSON objects (see keep_run_head).
CREATE FUNCTION ocsrun.line_facts(line text, OUT hash text, OUT step text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    parsed json;
BEGIN
    BEGIN
        parsed := line::json;
    EXCEPTION WHEN others THEN
        RETURN;  -- not JSON: `runs verify` names the row
    END;
    IF json_typeof(parsed) = 'object' THEN
        hash := parsed ->> 'hash';
        IF json_typeof(parsed -> 'data') = 'object' THEN
            step := parsed -> 'data' ->> 'step';
        END IF;
    END IF;
END
$$;

-- With every record, in its transaction. The line is parsed as JSON here, so a row that is not
-- JSON cannot be added at all (ocsrun never writes one). SECURITY DEFINER: operators cannot
-- write run_heads themselves; every name in it is schema-qualified.
CREATE FUNCTION ocsrun.keep_run_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    parsed json := NEW.line::json;
    data json;
    step text;
BEGIN
    IF json_typeof(parsed) <> 'object' THEN
        RAISE EXCEPTION 'ocsrun.journal: a line must be a JSON object'
            USING ERRCODE = 'invalid_text_representation';
    END IF;
    data := parsed -> 'data';
    IF json_typeof(data) = 'object' THEN
        step := data ->> 'step';
    END IF;
    INSERT INTO ocsrun.run_heads AS h (run_id, records, head, last_type, last_ts, last_step)
    VALUES (NEW.run_id, NEW.seq, parsed ->> 'hash', NEW.type, NEW.ts, step)
    ON CONFLICT (run_id) DO UPDATE SET records = EXCLUDED.records, head = EXCLUDED.head,
        last_type = EXCLUDED.last_type, last_ts = EXCLUDED.last_ts,
        last_step = EXCLUDED.last_step
    WHERE h.records < EXCLUDED.records;
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_keeps_head AFTER INSERT ON ocsrun.journal
    FOR EACH ROW EXECUTE FUNCTION ocsrun.keep_run_head();

INSERT INTO ocsrun.run_heads (run_id, records, head, last_type, last_ts, last_step)
SELECT last.run_id, last.seq, (ocsrun.line_facts(last.line)).hash, last.type, last.ts,
       (ocsrun.line_facts(last.line)).step
FROM (SELECT DISTINCT ON (run_id) run_id, seq, type, ts, line FROM ocsrun.journal
      ORDER BY run_id, seq DESC) AS last;

-- Roles that could read the journal before (operator_grants) read the heads too.
DO $$
DECLARE
    reader record;
BEGIN
    FOR reader IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'ocsrun.journal'::regclass AND a.privilege_type = 'SELECT'
          AND a.grantee <> c.relowner
    LOOP
        IF reader.grantee = 0 THEN
            GRANT SELECT ON ocsrun.run_heads TO PUBLIC;
        ELSE
            EXECUTE 'GRANT SELECT ON ocsrun.run_heads TO ' || reader.grantee::regrole::text;
        END IF;
    END LOOP;
END
$$;
""",
    ),
    Migration(
        3,
        "the run record's fields as columns, for runs list",
        """
-- `runs list` reads every field of every run record. Taken out of the jsonb at each listing,
-- that was a third of the query over 10,000 runs; stored generated columns are computed once,
-- when a row is written (and for the rows already there by this ALTER), and cannot disagree
-- with `info`, which stays the run record. `info_ok` says the record has the fields and JSON
-- types ocsrun writes (the local store's check of run.json: every field without a default
-- there, params and chain optional): a run without it is listed as damaged, after the others
-- as the local store lists it. `info_params` is NULL when a run has none.
ALTER TABLE ocsrun.runs
    ADD COLUMN info_runbook_id text GENERATED ALWAYS AS (info ->> 'runbook_id') STORED,
    ADD COLUMN info_title text GENERATED ALWAYS AS (info ->> 'runbook_title') STORED,
    ADD COLUMN info_version text GENERATED ALWAYS AS (info ->> 'runbook_version') STORED,
    ADD COLUMN info_path text GENERATED ALWAYS AS (info ->> 'runbook_path') STORED,
    ADD COLUMN info_target text GENERATED ALWAYS AS (info ->> 'target') STORED,
    ADD COLUMN info_operator text GENERATED ALWAYS AS (info ->> 'operator') STORED,
    ADD COLUMN info_started text GENERATED ALWAYS AS (info ->> 'started') STORED,
    ADD COLUMN info_rehearsal boolean
        GENERATED ALWAYS AS (info -> 'rehearsal' = 'true'::jsonb) STORED,
    ADD COLUMN info_params text
        GENERATED ALWAYS AS (nullif(info ->> 'params', '{}')) STORED,
    ADD COLUMN info_chain text
        GENERATED ALWAYS AS (coalesce(nullif(info ->> 'chain', ''), 'sha256')) STORED,
    ADD COLUMN info_ok boolean GENERATED ALWAYS AS (
        jsonb_typeof(info) = 'object'
        AND jsonb_typeof(info -> 'run_id') = 'string'
        AND jsonb_typeof(info -> 'runbook_id') = 'string'
        AND jsonb_typeof(info -> 'runbook_title') = 'string'
        AND jsonb_typeof(info -> 'runbook_version') = 'string'
        AND jsonb_typeof(info -> 'runbook_path') = 'string'
        AND jsonb_typeof(info -> 'target') IN ('string', 'null')
        AND jsonb_typeof(info -> 'operator') = 'string'
        AND jsonb_typeof(info -> 'started') = 'string'
        AND jsonb_typeof(info -> 'rehearsal') = 'boolean'
        AND coalesce(jsonb_typeof(info -> 'params'), 'object') = 'object'
        AND coalesce(jsonb_typeof(info -> 'chain'), 'string') = 'string'
    ) STORED;
""",
    ),
)

LATEST = MIGRATIONS[-1].version


def operator_grants(role: str) -> list[str]:
    """The statements that let `role` run, resume and read runs, and nothing more.

    Runs, run files and journal records can be added and read, never changed or removed;
    lock holder rows are the operator's own bookkeeping (written and removed at each lock).
    """
    ident = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA ocsrun TO {ident}",
        f"GRANT SELECT ON ocsrun.schema_migrations TO {ident}",
        f"GRANT SELECT, INSERT ON ocsrun.runs, ocsrun.run_files, ocsrun.journal TO {ident}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON ocsrun.runs, ocsrun.run_files, ocsrun.journal "
        f"FROM {ident}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ocsrun.lock_holders TO {ident}",
        # Kept by the journal's trigger with its owner's rights: operators only read it.
        f"GRANT SELECT ON ocsrun.run_heads TO {ident}",
    ]


def current_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The newest migration applied; 0 for a database ocsrun has never touched."""
    row = conn.execute("SELECT to_regclass('ocsrun.schema_migrations') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM ocsrun.schema_migrations")
    value = found.fetchone()
    return int(str(value[0])) if value is not None else 0


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[Migration]:
    """Apply the missing migrations (under the migration lock); the ones applied now."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        # Read the version only once the lock is ours: another session may just have migrated.
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS ocsrun.schema_migrations ("
                " version integer PRIMARY KEY, title text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        have = current_version(conn)
        if have > LATEST:
            raise StateError(newer_message(have))
        applied = []
        for migration in MIGRATIONS:
            if migration.version <= have:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO ocsrun.schema_migrations (version, title) VALUES (%s, %s)",
                    (migration.version, migration.title),
                )
            applied.append(migration)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def newer_message(have: int) -> str:
    return (
        f"the database's ocsrun schema is at version {have}, newer than this ocsrun knows "
        f"({LATEST}); upgrade ocsrun on this workstation"
    )
