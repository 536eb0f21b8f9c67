"""config.toml as a command reads it: its warnings said once, on stderr, and with a fleet
the host's keeper made sure of (any codename command brings back a keeper that died)."""

from __future__ import annotations

import sys

from codename_shell import config, report


def settings() -> config.Settings:
    loaded = config.load()
    loaded.theme_in_force()  # an unknown theme (schedule, CODENAME_THEME) warns: say it now
    for message in loaded.warnings:
        print(f"codename: warning: {report.printable(message)}", file=sys.stderr)
    loaded.warnings.clear()
    if loaded.fleet is not None:
        _supervise()
    return loaded


def _supervise() -> None:
    """With a fleet, make sure this host's keeper runs (fleet.supervise)."""
    from codename_shell import paths
    from codename_shell.errors import CodenameError
    from codename_shell.fleet import supervise

    try:
        supervise(paths.runtime_dir())
    except CodenameError:
        pass  # an unsafe runtime dir: the command itself says so
