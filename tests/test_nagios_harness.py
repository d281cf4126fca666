"""A real Nagios 4 runs the shipped check_gridready_xrootd command around a scripted probe.

Proves the Nagios side independently of any server: the command line and
macros of config/nagios/gridready-commands.cfg, the probes' environment under
Nagios, exit codes mapped to current_state, status line to plugin_output,
long output, and a probe timeout (-t) reported by the probe, not by Nagios.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, write
from tests.nagios.harness import parse_status, running_nagios, service_statuses
from tests.servers.process import descendants, running

RULES = """
milestones:
  - id: xrootd-string
    title: xroot published
    source: GDB 2010-06
    deadline: 2010-09-30
    warn_days: 30
    scope: {tiers: [1]}
    check: xrootd
    expect: {want: xroot}
    remediation: publish xroot
"""

HOST = """
define host {{
    use         generic-host
    host_name   {name}
    address     {address}
}}
"""

SERVICE = """
define service {{
    use                     generic-service
    host_name               {host}
    service_description     {name}
    check_command           check_gridready_xrootd!{port}!{args}
}}
"""

# (service, ARG2, expected current_state, expected start of plugin_output)
CASES = [
    ("ok", "--mode pass", 0, "XROOTD OK - fake.example:1094: xrootd-string COMPLIANT"),
    ("due", "--mode fail --as-of 2010-09-20", 1, "XROOTD WARNING - fake.example:1094: xrootd-string DUE"),
    ("overdue", "--mode fail --as-of 2010-10-08 -v", 2,
     "XROOTD CRITICAL - fake.example:1094: xrootd-string OVERDUE: published as 'root'"),
    ("source-error", "--mode error", 3,
     "XROOTD UNKNOWN - 127.0.0.1:1094: xrootd-string UNKNOWN: fake.example:1094: connection refused"),
    ("hang", "--mode hang -t 1", 3,
     "XROOTD UNKNOWN - 127.0.0.1:1094: xrootd-string UNKNOWN: timeout after 1s while waiting for the fake server's reply"),
    ("bad-args", "--mode pass --as-of 2010-02-30", 3, "XROOTD UNKNOWN - bad arguments: "),
]


def test_parse_status_blocks_and_values_with_equals() -> None:
    text = ("info {\n\tversion=4.4.6\n\t}\n\nservicestatus {\n\thost_name=h\n\tservice_description=s\n"
            "\thas_been_checked=1\n\tcurrent_state=2\n\tplugin_output=A - x=1 | t=2ms\n"
            "\tlong_plugin_output=line1\\nline2\n\t}\n")
    assert [kind for kind, _ in parse_status(text)] == ["info", "servicestatus"]
    status = service_statuses(text)[("h", "s")]
    assert (status.checked, status.state, status.output) == (True, 2, "A - x=1 | t=2ms")
    assert status.long_output == "line1\nline2"


def test_nagios_runs_the_shipped_command_for_every_state(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "check_xrootd").symlink_to(REPO / "tests" / "nagios" / "fake_xrootd.py")
    rules = write(tmp_path / "milestones.yaml", RULES)
    objects = HOST.format(name="xrootd-door", address="127.0.0.1") + "".join(
        SERVICE.format(host="xrootd-door", name=name, port=1094, args=f"{args} --milestones {rules}")
        for name, args, _, _ in CASES)
    with running_nagios(tmp_path / "nagios", objects, plugin_dir=plugins) as nagios:
        statuses = nagios.wait_checked(("xrootd-door", name) for name, *_ in CASES)
        assert nagios.process is not None
        spawned = descendants(nagios.process.pid)
        assert spawned, "Nagios 4 runs checks through worker processes"
    for name, _, state, output in CASES:
        status = statuses[("xrootd-door", name)]
        assert (name, status.state) == (name, state), status.output
        assert status.output.startswith(output), status.output
        assert status.check_command.startswith("check_gridready_xrootd!1094!")
    overdue = statuses[("xrootd-door", "overdue")]
    assert overdue.long_output.splitlines() == [
        "[CRITICAL] xrootd-string: published as 'root' (deadline 2010-09-30, overdue 8 days)",
        "    remediation: publish 'xroot'"]
    assert nagios.process is None
    assert [pid for pid in spawned if running(pid)] == []


@pytest.mark.parametrize("text, checked", [
    ("", {}), ("garbage\n", {}),
    ("servicestatus {\n\thost_name=h\n", {("h", ""): False}),  # cut off mid-block
    ("servicestatus {\n\thost_name=h\n\tservice_description=s\n\tcurrent_state=0\n\t}\n", {("h", "s"): False}),
])
def test_parse_status_of_partial_files(text: str, checked: dict[tuple[str, str], bool]) -> None:
    assert {key: s.checked for key, s in service_statuses(text).items()} == checked
