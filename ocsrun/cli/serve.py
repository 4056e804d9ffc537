"""`ocsrun serve`: the read-only web view of runs (needs the `ocsrun[web]` extra)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

LOCAL_HOSTS = {"localhost", "ip6-localhost"}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]", "::1"}


def is_local(host: str) -> bool:
    """Only this machine can reach an address of the loopback range (or `localhost`)."""
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
# No envvar on these: ocsrun.store.open reads OCSRUN_STORE, then OCSRUN_STATE_DIR, as for
# every command.
@click.option(
    "--store",
    "location",
    default=None,
    metavar="LOCATION",
    help="Run store: a state directory or a postgresql:// URL "
    "(default: $OCSRUN_STORE, else $OCSRUN_STATE_DIR, else .ocsrun here).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A local state directory (the same as --store DIR).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8075, show_default=True)
@click.option(
    "--token",
    envvar="OCSRUN_WEB_TOKEN",
    default=None,
    help="Every request must carry it (required on any address but loopback; "
    "also $OCSRUN_WEB_TOKEN).",
)
def serve(
    location: str | None, state_dir: Path | None, host: str, port: int, token: str | None
) -> int:
    """Serve a read-only web view of runs: list, timeline, report, runbook; JSON at /api/runs.

    Nothing it serves changes run state. Bound to 127.0.0.1 unless --host says otherwise; any
    other address needs --token, which browsers pass once as /?token=TOKEN and tools as
    `Authorization: Bearer TOKEN`.
    """
    from ocsrun.errors import UsageError

    if not is_local(host) and not token:
        raise UsageError(
            f"--host {host} is reachable from other machines: set --token (or OCSRUN_WEB_TOKEN) "
            "so every request must carry it"
        )
    if token is not None and len(token) < 16:
        raise UsageError("--token must be at least 16 characters")
    try:
        import uvicorn

        from ocsrun.web.app import create_app
    except ImportError as error:
        raise UsageError(
            f"ocsrun serve needs the web extra ({error.name} is missing): pip install 'ocsrun[web]'"
        ) from None
    from ocsrun.store.open import chosen, open_store

    store = open_store(chosen(location, state_dir), long_lived=True)
    shown = store.location
    # On loopback, answer only to loopback names: a web page elsewhere must not reach this
    # server through a DNS name rebound to 127.0.0.1 (the browser would send that name).
    hosts = sorted(LOOPBACK_NAMES | {host}) if is_local(host) else None
    app = create_app(store, location=shown, token=token, allowed_hosts=hosts)
    click.echo(f"ocsrun serve: runs of {shown} at http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
    return 0
