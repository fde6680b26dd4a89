"""Versioned plain-SQL migrations (``migrations/NNNN_name.sql``), applied in order.

Migrating is a step of its own, as the database owner (``drugfree db migrate``; the tests and
the embedded dev paths call ``migrate`` first): workers connect as the application role and
only check, with ``require_migrated``, that nothing is missing.

Our own ~60-line runner rather than a tool such as dbmate: it runs in-process over asyncpg
(no extra binary, and socket URLs of the embedded server just work), holds a PostgreSQL
advisory lock so two processes starting at once apply each migration exactly once (dbmate
has no such lock), and records a checksum so an edited, already-applied migration is refused
instead of silently skipped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from eventstore.errors import MigrationError, NotMigratedError

# Fixed key for pg_advisory_lock: "drugfree migrate" as a 63-bit number.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"drugfree migrate").digest()[:8], "big") >> 1
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text        PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """The migrations shipped in this package, in version order."""
    found = []
    for entry in resources.files("eventstore").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(match[1], match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(admin_url: str) -> list[str]:
    """Apply pending migrations as the database owner; return the versions applied now."""
    conn = await asyncpg.connect(admin_url)
    try:
        # Session lock: a second process waits here, then finds everything applied.
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_CREATE_TABLE)
            applied = {
                r["version"]: r["checksum"]
                for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
            }
            done = []
            for m in migrations():
                if m.version in applied:
                    if applied[m.version] != m.checksum:
                        raise MigrationError(
                            f"migration {m.version}_{m.name} was edited after it was applied; "
                            "add a new migration instead"
                        )
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute(m.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES ($1, $2, $3)",
                            m.version, m.name, m.checksum,
                        )
                except asyncpg.PostgresError as err:
                    raise MigrationError(f"migration {m.version}_{m.name} failed: {err}") from err
                done.append(m.version)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def require_migrated(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
    """Refuse a database that lacks any migration shipped with this code."""
    try:
        applied = set(await conn.fetchval("SELECT array_agg(version) FROM schema_migrations")
                      or ())
    except (asyncpg.UndefinedTableError, asyncpg.InsufficientPrivilegeError):
        applied = set()  # never migrated, or only before 0051 let the app role read this
    missing = [m.version for m in migrations() if m.version not in applied]
    if missing:
        raise NotMigratedError(
            f"the database is not migrated (missing {', '.join(missing)}): "
            "run `drugfree db migrate` first")
