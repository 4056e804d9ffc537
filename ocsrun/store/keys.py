"""The key of a keyed journal chain (HMAC-SHA256), from the environment.

`OCSRUN_JOURNAL_KEY` holds the key itself; `OCSRUN_JOURNAL_KEY_FILE` names a file holding it
(read safely, surrounding whitespace dropped). Neither set: journals are plain sha256 chains.
What each mode protects against is in docs/security.md.
"""

from __future__ import annotations

import os

from ocsrun import safe_io
from ocsrun.errors import UsageError

KEY_ENV = "OCSRUN_JOURNAL_KEY"
KEY_FILE_ENV = "OCSRUN_JOURNAL_KEY_FILE"
MIN_KEY_BYTES = 16  # shorter keys can be guessed; a key is shared by a team, not typed
MAX_KEY_BYTES = 4096


def journal_key() -> bytes | None:
    """The configured key, None when there is none; UsageError for an unusable one."""
    value = os.environ.get(KEY_ENV)
    if value:
        key, where = value.strip().encode("utf-8", errors="surrogateescape"), KEY_ENV
    else:
        path = os.environ.get(KEY_FILE_ENV)
        if not path:
            return None
        try:
            key = safe_io.read_regular(path, MAX_KEY_BYTES).strip()
        except OSError as error:
            reason = error.strerror or str(error)
            raise UsageError(f"{KEY_FILE_ENV}: cannot read {path}: {reason}") from None
        where = f"{KEY_FILE_ENV} ({path})"
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(f"{where}: the journal key must be at least {MIN_KEY_BYTES} bytes")
    return key
