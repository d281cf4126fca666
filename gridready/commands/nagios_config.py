"""``gridready nagios-config --site NAME``: Nagios definitions for one site's probes.

Prints, for a site of the inventory, the shipped command definitions
(``config/nagios/gridready-commands.cfg``) followed by a hostgroup, the hosts
and one service per probe target: every xrootd door, every dCache storage
element, the FTS server, and the worker nodes named with ``--wn`` (gLExec,
through NRPE). Only checks that some milestone applies to the site (by tier
and scope) get services. Service descriptions are the WLCG-style metric names
documented in ``config/nagios/gridready-services.example.cfg``.

The output is made from the inventory alone, with no network access, and is
the same for the same inputs, so it can be regenerated and diffed.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from gridready import bundled, metricoutput
from gridready.errors import GridreadyError
from gridready.escape import has_control, terminal
from gridready.models import Rules, Site

#: The metric name (service_description) of each check, the same as in the
#: metricOutput export: see the scheme in config/nagios/gridready-services.example.cfg.
METRICS: dict[str, str] = {check: name for check, (name, _) in metricoutput.METRICS.items()}
XROOTD_PORT = 1094
FTS_PORT = 8446
#: The NRPE command a worker node defines for check_glexec.
NRPE_GLEXEC = "check_glexec"
#: Service timing: compliance changes slowly (intervals in interval_length units, 60 s by default).
SERVICE_TIMING = (("check_interval", "60"), ("retry_interval", "15"), ("max_check_attempts", "3"),
                  ("notification_interval", "1440"))


def commands_file() -> Path:
    return bundled.config_dir() / "nagios" / "gridready-commands.cfg"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "nagios-config", help="print Nagios command, host and service definitions for a site's probes",
        description="Print Nagios 4 definitions (commands, hostgroup, hosts, services) for the "
                    "gridready probes of one site of the inventory.")
    parser.add_argument("--site", required=True, metavar="NAME", help="site name as in the inventory")
    parser.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled)")
    parser.add_argument("--milestones", metavar="FILE",
                        help="milestone rules deciding which checks apply (default: bundled)")
    parser.add_argument("--plugin-dir", metavar="DIR",
                        help="directory of the probes, written into the commands instead of $USER1$")
    parser.add_argument("--wn", metavar="HOST", action="append", default=[],
                        help="worker node to check gLExec on through NRPE (repeatable)")
    parser.add_argument("--no-commands", action="store_true",
                        help="leave out the command definitions (already included from "
                             "gridready-commands.cfg)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from gridready.configfile import load_inventory, load_rules

    inventory = load_inventory(args.inventory or bundled.inventory_file())
    site = inventory.site(args.site)
    if site is None:
        known = ", ".join(s.name for s in inventory.sites)
        raise GridreadyError(f"{inventory.path}: no site '{args.site}' (known: {known})")
    rules = load_rules(args.milestones or bundled.milestones_file())
    # Pass on only what was chosen explicitly: the probes' defaults are the same bundled files.
    shared = ["--site", site.name]
    if args.inventory:
        shared += ["--inventory", str(Path(args.inventory).resolve())]
    if args.milestones:
        shared += ["--milestones", str(Path(args.milestones).resolve())]
    commands = None
    if not args.no_commands:
        commands = command_definitions(commands_file(), args.plugin_dir)
    text = render(site, rules, shared, args.wn, commands,
                  inventory_path=str(Path(inventory.path).resolve()), rules_path=str(Path(rules.path).resolve()))
    (out or sys.stdout).write(text)
    return 0


def command_definitions(path: Path, plugin_dir: str | None) -> str:
    """The shipped command definitions, with ``$USER1$`` replaced by ``plugin_dir`` if given."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GridreadyError(f"{path}: cannot read the command definitions: {exc.strerror}") from None
    if plugin_dir is None:
        return text
    directory = _name(str(Path(plugin_dir).resolve()), "--plugin-dir")
    return re.sub(r"(?m)^(\s*command_line\s+)\$USER1\$/", lambda m: m.group(1) + directory + "/", text)


@dataclass
class _Host:
    name: str
    alias: str
    services: list[tuple[str, str]] = field(default_factory=list)  # (description, check_command)


@dataclass
class _Config:
    site: Site
    #: Options every probe of the site gets (--site, and --inventory/--milestones if chosen).
    shared: Sequence[str]
    hosts: dict[str, _Host] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def service(self, host: str, role: str, description: str, command: str, *args: str) -> None:
        host = _name(host, f"site {self.site.name}: {role} host")
        entry = self.hosts.setdefault(host.lower(), _Host(host, f"{self.site.name} {role}"))
        if role not in entry.alias:
            entry.alias += f", {role}"
        check = "!".join((command, *args))
        if all(d != description for d, _ in entry.services):
            entry.services.append((description, check))


def render(site: Site, rules: Rules, shared: Sequence[str], wns: Sequence[str], commands: str | None,
           inventory_path: str = "", rules_path: str = "") -> str:
    """The whole output for ``site``: pure, for a given inventory entry and rules."""
    _name(site.name, "site name")    # first: every later message names the site
    applies = {m.check for m in rules.milestones if m.scope.applies(site.name, site.tier)}
    config = _Config(site, shared)
    extra = _args(shared, site)
    for check, add in (("xrootd", _xrootd), ("dcache_version", _dcache), ("fts_channels", _fts),
                       ("glexec", _glexec)):
        if check not in applies:
            config.notes.append(f"no milestone of check {check} applies to {site.name} (tier {site.tier})")
            continue
        add(config, extra, wns)
    return _text(config, commands, inventory_path, rules_path)


#: The inventory field or option each probe option's value comes from, for messages.
_FIELDS = {"--bdii": "inventory bdii", "--srr": "inventory srr", "--site": "site name",
           "--inventory": "--inventory path", "--milestones": "--milestones path"}


def _args(options: Sequence[str], site: Site) -> str:
    """Probe options (``--opt value`` pairs) as check_command arguments; a value that cannot be
    written safely is refused naming the site and the field it came from."""
    out = []
    for i, value in enumerate(options):
        field = _FIELDS.get(options[i - 1], f"value of {options[i - 1]}") if i % 2 else "option"
        out.append(_argument(value, f"site {site.name}: {field}"))
    return " ".join(out)


#: Characters that mean nothing to Nagios' object parser, its macros or the shell.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+=,-]+\Z")


def _name(value: str, what: str) -> str:
    """A host name, site name or directory, which must go into definitions unquoted."""
    if not _PLAIN.match(value):
        raise GridreadyError(f"{what} {value!r} cannot go into a Nagios definition: use only letters, "
                             "digits and _ . / : @ % + = , -")
    return value


def _argument(value: str, what: str) -> str:
    """An option value as it must be written in a ``check_command`` argument.

    Nagios splits arguments at '!', starts a comment at ';' (unless written
    '\\;'), expands '$' (unless written '$$'), and runs a command line with
    shell metacharacters through /bin/sh. Plain values go as they are, others
    in single quotes, escaped for Nagios; blanks, '!', quotes and
    backslashes cannot be passed at all.
    """
    if _PLAIN.match(value):
        return value
    if not value or re.search(r"[\s!'\"\\]", value) or has_control(value):
        raise GridreadyError(f"{what} {value!r} cannot go into a Nagios command: it is empty or holds "
                             "blanks, control characters, '!', quotes or backslashes")
    return "'" + value.replace("$", "$$").replace(";", "\\;") + "'"


def _source(site: Site) -> list[str]:
    if site.bdii:
        return ["--bdii", site.bdii]
    if site.srr:
        return ["--srr", site.srr]
    return []


def _xrootd(config: _Config, extra: str, wns: Sequence[str]) -> None:
    site = config.site
    if not site.xrootd:
        config.notes.append(f"no xrootd doors listed for {site.name} in the inventory (xrootd:)")
    doors = [_host_port(door) for door in site.xrootd]
    for host, port in doors:
        # The metric name alone unless one host has several doors.
        shared_host = sum(1 for h, _ in doors if h.lower() == host.lower()) > 1
        metric = METRICS["xrootd"] + (f"-{port}" if shared_host else "")
        config.service(host, "xrootd door", metric, "check_gridready_xrootd", str(port),
                       " ".join(filter(None, (_args(_source(site), site), extra))))


def _dcache(config: _Config, extra: str, wns: Sequence[str]) -> None:
    site = config.site
    source = _source(site)
    # Storage of unknown implementation is checked too: the probe reads the
    # implementation from the information system and says what it found.
    ses = [s.host for s in site.storage if s.implementation.casefold() in ("dcache", "")]
    if not ses:
        config.notes.append(f"no dCache storage listed for {site.name} in the inventory (storage:)")
    elif not source:
        config.notes.append(f"no bdii or srr for {site.name} in the inventory: the dCache version "
                            "service needs a data source (--bdii, --srr or --info)")
        return
    for host in ses:
        config.service(host, "dCache SE", METRICS["dcache_version"], "check_gridready_dcache_version",
                       f"{_args(source, site)} {extra}")


def _fts(config: _Config, extra: str, wns: Sequence[str]) -> None:
    site = config.site
    if not site.fts:
        config.notes.append(f"no FTS server listed for {site.name} in the inventory (fts:)"
                            + (f"; its channel dump {site.fts_channels} is checked by the sweep"
                               if site.fts_channels else ""))
        return
    url = urlsplit(site.fts)
    if url.scheme != "https" or not url.hostname or url.path not in ("", "/"):
        config.notes.append(f"FTS source {site.fts} of {site.name} is not an https://host:port URL "
                            "of an FTS3 server: no service made for it")
        return
    port = url.port or FTS_PORT
    # FTS3 answers only X.509-authenticated clients; the credential is the site's.
    config.service(url.hostname, "FTS server", METRICS["fts_channels"], "check_gridready_fts_channels",
                   str(port), f"--capath /etc/grid-security/certificates {extra}")
    config.notes.append(f"add the X.509 credential the nagios user reads (--cert F --key F or "
                        f"--proxy F) to the {METRICS['fts_channels']} check_command")


def _glexec(config: _Config, extra: str, wns: Sequence[str]) -> None:
    site = config.site
    if not wns:
        config.notes.append(f"gLExec ({METRICS['glexec']}) is tested on a worker node: rerun with "
                            "--wn HOST to add it, checked through NRPE")
        return
    for wn in wns:
        config.service(_name(wn, "--wn"), "worker node", METRICS["glexec"],
                       "check_gridready_glexec_nrpe", NRPE_GLEXEC)
    config.notes.append(f"on each worker node, nrpe.cfg needs: command[{NRPE_GLEXEC}]="
                        f"/usr/lib/nagios/plugins/check_glexec {shlex.join(config.shared)}")


def _host_port(door: str) -> tuple[str, int]:
    """An inventory ``xrootd:`` entry, read as check_xrootd reads -H."""
    from gridready.xrootd.published import parse_door

    try:
        parsed = parse_door(door, XROOTD_PORT)
    except ValueError as exc:
        raise GridreadyError(f"bad xrootd door in the inventory: {exc}") from None
    return parsed.host, parsed.port


def _comment(line: str) -> str:
    """A ``#`` comment line that stays one comment line whatever the values in it.

    A line break would start a live line (a ``define``), so control characters
    are shown as ``\\xNN``; and Nagios joins a line ending in a backslash with
    the next one (checked with ``nagios4 -v``), which would swallow the
    following ``define``, so such a line gets a trailing blank.
    """
    text = terminal(line)
    return text + " " if text.endswith("\\") else text


def _block(kind: str, pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs) + 4
    body = "".join(f"    {k.ljust(width)}{v}\n" for k, v in pairs)
    return f"define {kind} {{\n{body}}}\n"


def _text(config: _Config, commands: str | None, inventory_path: str, rules_path: str) -> str:
    site = config.site
    group = f"gridready-{_name(site.name, 'site name')}"
    lines = [f"# Nagios definitions for the gridready probes of {site.name} (tier {site.tier}),",
             f"# made by `gridready nagios-config --site {site.name}` from",
             f"#   inventory  {inventory_path}",
             f"#   milestones {rules_path}",
             "# Include with cfg_file=<this file> in nagios.cfg; the hosts and services build",
             "# on the stock generic-host and generic-service templates. Service descriptions",
             "# are WLCG metric names (config/nagios/gridready-services.example.cfg).",
             "#"]
    lines += [f"# NOTE: {note}" for note in config.notes]
    parts = ["\n".join(_comment(line) for line in lines) + "\n"]
    if commands is not None:
        parts.append(commands.rstrip("\n") + "\n")
    if config.hosts:
        parts.append(_block("hostgroup", [("hostgroup_name", group),
                                          ("alias", f"{site.name} services checked by gridready")]))
        for host in config.hosts.values():
            parts.append(_block("host", [("use", "generic-host"), ("host_name", host.name),
                                         ("alias", host.alias), ("address", host.name),
                                         ("hostgroups", group), ("max_check_attempts", "3")]))
        for host in config.hosts.values():
            for description, check in host.services:
                parts.append(_block("service", [("use", "generic-service"), ("host_name", host.name),
                                                ("service_description", description),
                                                ("check_command", check), *SERVICE_TIMING]))
    return "\n".join(parts)
