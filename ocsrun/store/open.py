"""`open_store(location)`: the one place that knows which run stores exist.

Everything above the store wing (run/, cli/, a web page, the public API) gets a
`RunStore` from here and talks to it only through `ocsrun.store.protocol`.

A location is chosen by its form:

* `postgresql://...` / `postgres://...` — a shared database for a team (see SCHEMES);
* anything else — a directory on this workstation (`ocsrun.store.local`);
* nothing — `$OCSRUN_STORE` (either of the above), else `$OCSRUN_STATE_DIR`, else `.ocsrun`
  in the working directory.

Store modules are imported only when chosen, so `ocsrun --version` and commands that never
touch run state pay nothing for them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ocsrun.errors import UsageError

if TYPE_CHECKING:
    from ocsrun.store.protocol import RunStore

STATE_ENV = "OCSRUN_STATE_DIR"
DEFAULT_STATE_DIR = ".ocsrun"

# URL scheme -> "module:factory". The factory takes the location string and returns a
# RunStore. Register a new kind of store here and nowhere else.
SCHEMES: dict[str, str] = {
    # Hook for the team store: `ocsrun.store.postgres` provides `open_url(location)`.
    "postgresql": "ocsrun.store.postgres:open_url",
    "postgres": "ocsrun.store.postgres:open_url",
}


STORE_ENV = "OCSRUN_STORE"


def default_location() -> str:
    """`$OCSRUN_STORE` (a directory or a URL), else `$OCSRUN_STATE_DIR`, else `.ocsrun` here."""
    return (
        os.environ.get(STORE_ENV)
        or os.environ.get(STATE_ENV)
        or str(Path.cwd() / DEFAULT_STATE_DIR)
    )


def chosen(store: str | None, state_dir: Path | None) -> str | Path | None:
    """The location a command's `--store` and `--state-dir` name (None: the default)."""
    if store and state_dir is not None:
        raise UsageError("give --store or --state-dir, not both")
    return store or state_dir


def scheme_of(location: str) -> str | None:
    """The URL scheme of a registered store kind, or None for a directory."""
    head, sep, _rest = location.partition("://")
    if sep and head.lower() in SCHEMES:
        return head.lower()
    return None


def open_store(location: str | Path | None = None, *, long_lived: bool = False) -> RunStore:
    """The run store at `location` (see the module docstring); nothing is created yet.

    `long_lived`: the caller keeps this store and reads the same runs again and again (the
    web view); a store may then keep what it read in memory while the files are unchanged.
    Raises UsageError for a URL whose kind of store is not available.
    """
    if location is None or location == "":
        location = default_location()
    if isinstance(location, Path):
        return _local(location, long_lived)
    scheme = scheme_of(location)
    if scheme is None:
        if "://" in location:
            known = ", ".join(f"{s}://" for s in sorted(SCHEMES))
            raise UsageError(
                f"unknown store {location.partition('://')[0]!r}://: give a directory or {known}"
            )
        return _local(Path(location), long_lived)
    return _factory(scheme)(location)


def _local(path: Path, long_lived: bool) -> RunStore:
    from ocsrun.store.keys import journal_key
    from ocsrun.store.local import LocalDirStore

    return LocalDirStore(path, cache_reads=long_lived, key=journal_key())


def _factory(scheme: str) -> Callable[[str], RunStore]:
    module_name, _, attribute = SCHEMES[scheme].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise UsageError(f"{scheme}:// stores are not available in this ocsrun") from None
        # A dependency of the store module (e.g. its database driver) is missing.
        raise UsageError(
            f"{scheme}:// stores need the Python package {error.name!r}: "
            "pip install 'ocsrun[postgres]'"
        ) from None
    factory: Callable[[str], RunStore] = getattr(module, attribute)
    return factory
