"""Reaching the team store's server: URLs, connection settings, the lazy psycopg import.

A store location is a libpq URL (`postgresql://` or `postgres://`). It never carries a
password: those come from libpq's own sources (PGPASSWORD, ~/.pgpass or PGPASSFILE), so a
password is never in argv, the journal, a report or `runs list`.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ocsrun.errors import UsageError

SCHEMES = ("postgresql://", "postgres://")
# Client side: probe an idle connection after 15 s, every 5 s, give up after 4 misses.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 15,
    "keepalives_interval": 5,
    "keepalives_count": 4,
    "connect_timeout": 15,
}
# Server side, so the server drops a dead workstation's session (and its lock) in about
# 35 s instead of the kernel's two hours; durable commits whatever the database default is.
SESSION_SETTINGS = (
    "SET synchronous_commit = on;"
    "SET tcp_keepalives_idle = 15; SET tcp_keepalives_interval = 5;"
    "SET tcp_keepalives_count = 4; SET tcp_user_timeout = 35000"
)


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


def check_url(url: str) -> None:
    """Refuse a URL carrying a password: it would sit in argv, shell history and `ps`."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    if parts.password is not None or "password" in query:
        raise UsageError(
            "a postgresql:// store URL must not contain a password (it would be visible in "
            "the process list and shell history); use PGPASSWORD or a password file "
            "(~/.pgpass, PGPASSFILE)"
        )


def display_url(url: str) -> str:
    """The URL as shown to people and written in journals: never a password."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        user = netloc[0].split(":", 1)[0]
        host = f"{user}@{netloc[1]}"
    else:
        host = netloc[0]
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "password"]
    return urllib.parse.urlunsplit(
        (parts.scheme, host, parts.path, urllib.parse.urlencode(query), "")
    )


def psycopg_module() -> Any:
    try:
        import psycopg
    except ImportError:
        raise UsageError(
            "a postgresql:// store needs psycopg: pip install 'ocsrun[postgres]'"
        ) from None
    return psycopg


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def last_result(cursor: Any) -> Any:
    """The cursor at the result of the last of several statements (psycopg starts at the first)."""
    while cursor.nextset():
        pass
    return cursor
