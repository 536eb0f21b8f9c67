"""Moments as a person gives and reads them: `--since` and `--at` (a duration back, a time
today, a date) parsed, and times shown in local time, never a crash for a moment this time
zone cannot show (year 1 east of UTC, year 9999 west of it).
"""

from __future__ import annotations

import re
import time

from codename_shell.errors import UsageError

_DURATION = re.compile(r"(?:(\d+)\s*([smhdw]))+")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None, option: str = "--since") -> float:
    """`--since`, `--at`: a duration back from now (90s, 30m, 2h, 1d, 1w, 1h30m), a time today
    (15:00), `today`, `yesterday`, or a date or date and time (2026-11-28, 2026-11-28T15:00)."""
    from datetime import UTC, datetime, timedelta

    now = time.time() if now is None else now
    spec = text.strip().lower()
    if _DURATION.fullmatch(spec):
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)\s*([smhdw])", spec))
        return now - seconds
    try:
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        if spec in ("today", "yesterday"):
            return (midnight - timedelta(days=spec == "yesterday")).timestamp()
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", spec):
            clock = datetime.strptime(spec if spec.count(":") == 2 else spec + ":00", "%H:%M:%S")
            return midnight.replace(hour=clock.hour, minute=clock.minute,
                                    second=clock.second).timestamp()
        given = datetime.fromisoformat(text.strip())  # naive: local time
    except (ValueError, OverflowError, OSError):
        given = None
    if given is None:
        raise UsageError(f"{option} {text!r}: give a duration (90s, 30m, 2h, 1d, 1w), a time "
                         "(15:00), today, yesterday, or a date (2026-11-28, 2026-11-28T15:00)")
    try:
        return given.timestamp()
    except (ValueError, OverflowError, OSError):
        # Year 1 east of UTC, year 9999 west of it: a moment this zone cannot name, at the
        # very edge of time; read as UTC, hours from it at most.
        return given.replace(tzinfo=UTC).timestamp()


def iso(stamp: float) -> str:
    """ISO 8601 in local time, with its offset: 2026-11-28T15:04:05+01:00 (UTC, or "", for a
    moment this zone cannot show)."""
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        try:
            return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            return ""


def local(stamp: float) -> str:
    """`2026-11-28 15:04:05`, local time ("?" for a moment this zone cannot show)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
    except (ValueError, OverflowError, OSError):
        return "?"


def clock(stamp: float) -> str:
    """`15:04:05`, local time."""
    return local(stamp)[11:] or "?"
