"""`python -m codename_shell`: codename started as a module (the hook's fallback when it
cannot name a launcher). Everything happens in `launcher.run`, as for every other way in."""

import sys

try:
    from codename_shell.launcher import run
except KeyboardInterrupt:  # before run() could catch it: no traceback all the same
    import _signal  # type: ignore[import-not-found]  # no stub: the C half of `signal`

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    from codename_shell.launcher import interrupted

    sys.exit(interrupted(sys.argv[1:2] == ["init"]))
sys.exit(run())
