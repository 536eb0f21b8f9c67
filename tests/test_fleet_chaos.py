"""The fleet at scale under random faults: twenty hosts, eight holders each, a 3 s lease and a
minute of faults of every kind (tests/fleet_chaos.py), sampled five times a second. The short
form of the chaos harness; the long form is `python -m bench fleet-chaos --minutes N`.

    CODENAME_CHAOS_SEED=N     replay a run's faults (the seed is printed; the processes'
                              timing is the machine's, so a replay is close, not identical)
    CODENAME_CHAOS_SECONDS=S  faults for S seconds instead of 60
    CODENAME_CHAOS_RULE=presence  read shown names by the rule before lease files (presence
                              names as they are): the test then fails, which shows it can

About 75 s on two cores: 10 s of set-up (160 claims), the minute of faults, then settling
(a few seconds; ten leases at most) and a lease more of samples.
"""

from __future__ import annotations

from pathlib import Path

from conftest import require
from fleet_chaos import KINDS, Settings, run
from fleet_hosts import LEASE_RULE, PRESENCE_RULE, require_root, shown


def test_twenty_hosts_under_random_faults_never_show_one_plain_name_twice(
        tmp_path: Path) -> None:
    require_root()
    require("redis-server")
    settings = Settings.from_env()
    report = run(tmp_path / "chaos", settings)
    print(report.text())
    why = "\n" + report.text()
    assert not report.errors, why
    assert report.samples >= settings.seconds, why  # five a second are asked, one is plenty
    assert report.violating == 0, why
    assert not report.end_doubles, why
    assert set(report.faults) == set(KINDS), why
    assert not report.failed_claims, why  # a fleet that cannot answer still gives names
    # After the faults, every live holder shows a plain name again, within ten leases.
    assert report.settled_in is not None, why


def _files(runtime: Path, files: dict[str, str]) -> None:
    for where, text in files.items():
        path = runtime / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_shown_name_rule(tmp_path: Path) -> None:
    uptime = int(float(Path("/proc/uptime").read_text().split()[0]))
    ahead, gone = uptime + 60, uptime
    _files(tmp_path, {
        "codename/11-5": "Pam\tfull=Pam Beesly\n",  # vouched
        "codename-fleet/11-5.lease": f"{ahead}\tPam\tx\n",
        "codename/12-5-4026531836": "Jim\tkind=terminal\n",  # vouched, ident with namespace
        "codename-fleet/12-5-4026531836.lease": f"{ahead}\tJim\n",
        "codename/13-5": "Kevin\n",  # its lease is gone
        "codename-fleet/13-5.lease": f"{gone}\tKevin\n",
        "codename/14-5": "Oscar\n",  # the lease vouches for another name
        "codename-fleet/14-5.lease": f"{ahead}\tAngela\n",
        "codename/15-5": "Ryan\n",  # no lease file
        "codename/16-5": "Toby\n",  # a deadline that is no whole number
        "codename-fleet/16-5.lease": f"{ahead}.5\tToby\n",
        "codename/17-5": "Andy@vm~3f2a9c\tfull=Andy\n",  # host-qualified already
        "codename/18-5": "",  # released
        "codename/19-5": "Creed\n",  # not asked about
        "codename/11-5.999.tmp": "Stanley\n",  # a writer's temp file
    })
    pids = range(11, 19)
    assert shown(tmp_path, pids, LEASE_RULE) == {
        11: "Pam", 12: "Jim", 13: "Kevin@…", 14: "Oscar@…", 15: "Ryan@…", 16: "Toby@…",
        17: "Andy@vm~3f2a9c"}
    assert shown(tmp_path, pids, PRESENCE_RULE) == {
        11: "Pam", 12: "Jim", 13: "Kevin", 14: "Oscar", 15: "Ryan", 16: "Toby",
        17: "Andy@vm~3f2a9c"}
    assert shown(tmp_path / "nowhere", pids) == {}
