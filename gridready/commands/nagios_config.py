"""``gridready nagios-config``: Nagios 4 or Icinga 2 definitions for sites' probes.

Prints, for the chosen sites of the inventory (``--site NAME``, repeatable,
or ``--all``), the shipped command definitions
(``config/nagios/gridready-commands.cfg``) followed by a hostgroup per site,
the hosts and one service per probe target: every xrootd door, every dCache
storage element, the FTS3 server (``fts:`` https URL) or the FTS 2 channel
dump (``fts_channels:``), and gLExec on the worker nodes named with ``--wn``
(one service on the site's worker-node hostgroup, run through NRPE; ``--nrpe-port``
and ``--check-nrpe`` say where the NRPE daemons listen and where check_nrpe is). Only
checks that some milestone applies to the site (by tier and scope) get
services. Service descriptions are the WLCG-style metric names documented in
``config/nagios/gridready-services.example.cfg``. ``--with-templates`` adds
the timeperiod, contact and generic-host/generic-service templates the
objects build on, so the output alone passes ``nagios4 -v``.
``--format icinga2`` writes the same hosts and services as Icinga 2 objects
for the CheckCommands of ``config/nagios/icinga2/gridready.conf``
(:mod:`gridready.commands.icinga2_config`).

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
from gridready.errors import GridreadyError, UsageError
from gridready.escape import has_control, terminal
from gridready.models import Rules, Site

#: The metric name (service_description) of each check, the same as in the
#: metricOutput export: see the scheme in config/nagios/gridready-services.example.cfg.
METRICS: dict[str, str] = {check: name for check, (name, _) in metricoutput.METRICS.items()}
XROOTD_PORT = 1094
FTS_PORT = 8446
#: The NRPE command a worker node defines for check_glexec.
NRPE_GLEXEC = "check_glexec"
#: NRPE's own default port (nrpe.cfg server_port); another one needs --nrpe-port.
NRPE_PORT = 5666
#: Where FTS3 checks find the CA certificates (the grid's usual directory).
CAPATH = "/etc/grid-security/certificates"
#: Service timing: compliance changes slowly (intervals in interval_length units, 60 s by default).
SERVICE_TIMING = (("check_interval", "60"), ("retry_interval", "15"), ("max_check_attempts", "3"),
                  ("notification_interval", "1440"))
#: The host an FTS 2 channel dump is checked on when the inventory names no FTS host: the
#: dump is a file the monitoring host reads, so the service sits on that host (loopback).
DUMP_ADDRESS = "127.0.0.1"


def commands_file() -> Path:
    return bundled.config_dir() / "nagios" / "gridready-commands.cfg"


def templates_file() -> Path:
    return bundled.config_dir() / "nagios" / "gridready-templates.cfg"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "nagios-config", help="print Nagios or Icinga 2 definitions for sites' probes",
        description="Print Nagios 4 definitions (commands, hostgroups, hosts, services), or Icinga 2 "
                    "objects, for the gridready probes of sites of the inventory.")
    parser.add_argument("--site", action="append", default=[], metavar="NAME",
                        help="site name as in the inventory (repeatable)")
    parser.add_argument("--all", action="store_true", help="every site of the inventory")
    parser.add_argument("--format", choices=("nagios", "icinga2"), default="nagios",
                        help="nagios (Nagios 4 object definitions, default) or icinga2 (Icinga 2 objects)")
    parser.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled)")
    parser.add_argument("--milestones", metavar="FILE",
                        help="milestone rules deciding which checks apply (default: bundled)")
    parser.add_argument("--plugin-dir", metavar="DIR",
                        help="directory of the probes, written into the commands instead of $USER1$ "
                             "(Icinga 2: PluginDir)")
    parser.add_argument("--wn", metavar="HOST", action="append", default=[],
                        help="worker node to check gLExec on through NRPE (repeatable; one site only)")
    parser.add_argument("--nrpe-port", metavar="PORT", type=int,
                        help="port the worker nodes' NRPE daemons listen on (nrpe.cfg server_port; "
                             f"default {NRPE_PORT}); Nagios format, with --wn")
    parser.add_argument("--check-nrpe", metavar="PATH",
                        help="the check_nrpe plugin (default: check_nrpe in the plugin directory, $USER1$ "
                             "or --plugin-dir); Nagios format, with --wn")
    parser.add_argument("--no-commands", action="store_true",
                        help="leave out the command definitions (already included from "
                             "gridready-commands.cfg, or icinga2/gridready.conf)")
    parser.add_argument("--with-templates", action="store_true",
                        help="Nagios: also print the 24x7 timeperiod, a contact and the generic-host/"
                             "generic-service templates, so the output alone passes nagios4 -v "
                             "(leave out where the stock templates.cfg is loaded)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from gridready.configfile import load_inventory, load_rules

    if not args.site and not args.all:
        raise UsageError("nagios-config: give --site NAME (repeatable) or --all")
    if args.site and args.all:
        raise UsageError("nagios-config: give either --site or --all")
    inventory = load_inventory(args.inventory or bundled.inventory_file())
    if args.all:
        sites = list(inventory.sites)
    else:
        sites = []
        for name in args.site:
            site = inventory.site(name)
            if site is None:
                known = ", ".join(s.name for s in inventory.sites)
                raise GridreadyError(f"{inventory.path}: no site '{name}' (known: {known})")
            if site not in sites:
                sites.append(site)
    if args.wn and len(sites) != 1:
        raise UsageError("nagios-config: --wn names the worker nodes of one site: give one --site")
    _check_nrpe_options(args)
    rules = load_rules(args.milestones or bundled.milestones_file())
    # Pass on only what was chosen explicitly: the probes' defaults are the same bundled files.
    common: list[str] = []
    if args.inventory:
        common += ["--inventory", str(Path(args.inventory).resolve())]
    if args.milestones:
        common += ["--milestones", str(Path(args.milestones).resolve())]
    plan = Plan(nrpe_port=args.nrpe_port)
    for site in sites:
        add_site(plan, site, rules, ["--site", site.name, *common], args.wn)
    paths = (str(Path(inventory.path).resolve()), str(Path(rules.path).resolve()))
    if args.format == "icinga2":
        from gridready.commands.icinga2_config import check_commands, render_plan as render_icinga2

        icinga = None if args.no_commands else check_commands(args.plugin_dir)
        text = render_icinga2(plan, icinga, *paths, command_line=_command_line(args))
    else:
        commands = None if args.no_commands else command_definitions(commands_file(), args.plugin_dir,
                                                                     args.check_nrpe)
        templates = template_definitions() if args.with_templates else None
        text = render_plan(plan, commands, *paths, templates=templates, command_line=_command_line(args))
    (out or sys.stdout).write(text)
    return 0


def _check_nrpe_options(args: argparse.Namespace) -> None:
    nrpe = [f"--{o}" for o, v in (("nrpe-port", args.nrpe_port), ("check-nrpe", args.check_nrpe)) if v is not None]
    if not nrpe:
        return
    if args.format != "nagios":
        raise UsageError(f"nagios-config: {' and '.join(nrpe)} apply to --format nagios only "
                         "(Icinga 2 runs gLExec on the worker node through its own agent)")
    if not args.wn:
        raise UsageError(f"nagios-config: {' and '.join(nrpe)} apply to the gLExec service: give --wn HOST")
    if args.nrpe_port is not None and not 1 <= args.nrpe_port <= 65535:
        raise UsageError(f"nagios-config: --nrpe-port must be a port number 1-65535, got {args.nrpe_port}")
    if args.check_nrpe is not None and not Path(args.check_nrpe).is_absolute():
        raise UsageError(f"nagios-config: --check-nrpe must be an absolute path, got {args.check_nrpe!r}")


def _command_line(args: argparse.Namespace) -> str:
    """How this output was made, for its header comment (names only, no paths)."""
    chosen = ["--all"] if args.all else [f"--site {name}" for name in args.site]
    if args.format != "nagios":
        chosen.append(f"--format {args.format}")
    if args.with_templates:
        chosen.append("--with-templates")
    return "gridready nagios-config " + " ".join(chosen)


def template_definitions() -> str:
    """The shipped ``gridready-templates.cfg`` (timeperiod, contact, generic templates)."""
    from gridready.localfile import read_text

    return read_text(templates_file(), what="Nagios template definitions")


def command_definitions(path: Path, plugin_dir: str | None, check_nrpe: str | None = None) -> str:
    """The shipped command definitions, with ``$USER1$`` replaced by ``plugin_dir`` if given.

    ``check_nrpe`` (an absolute path) replaces ``$USER1$/check_nrpe``: NRPE's
    plugin is not one of the probes and may live elsewhere (Debian:
    /usr/lib/nagios/plugins/check_nrpe). Raises GridreadyError for a path
    that cannot go into a definition unquoted.
    """
    from gridready.localfile import read_text

    text = read_text(path, what="Nagios command definitions")
    if check_nrpe is not None:
        plugin = _name(check_nrpe, "--check-nrpe")
        text = re.sub(r"(?m)^(\s*command_line\s+)\$USER1\$/check_nrpe(?=\s)", lambda m: m.group(1) + plugin, text)
    if plugin_dir is None:
        return text
    directory = _name(str(Path(plugin_dir).resolve()), "--plugin-dir")
    return re.sub(r"(?m)^(\s*command_line\s+)\$USER1\$/", lambda m: m.group(1) + directory + "/", text)


@dataclass
class Service:
    """One service to monitor, independent of the output format.

    ``kind`` is the check (xrootd, dcache_version, fts_channels, fts_channel_list,
    glexec); ``options`` the probe's own options as ``(--opt, value)`` pairs
    (``--site``, data source, ``--inventory``...); ``port``/``path`` the
    door or REST port and the channel dump.
    """

    site: Site
    host: str
    description: str
    kind: str
    options: tuple[tuple[str, str], ...] = ()
    port: int | None = None
    path: str | None = None


@dataclass
class Host:
    name: str
    alias: str
    address: str
    groups: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What the chosen sites need monitored: hosts, services, hostgroups and notes."""

    hosts: dict[str, Host] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    #: hostgroup name -> alias, in order of creation
    groups: dict[str, str] = field(default_factory=dict)
    #: worker-node hostgroup -> (site, NRPE-less probe options) for the gLExec service on it
    wn_groups: dict[str, tuple[Site, tuple[tuple[str, str], ...]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    #: the worker nodes' NRPE port when not NRPE's default (--nrpe-port)
    nrpe_port: int | None = None

    def host(self, site: Site, name: str, role: str, group: str, address: str | None = None) -> Host:
        name = _name(name, f"site {site.name}: {role} host")
        entry = self.hosts.setdefault(name.lower(), Host(name, f"{site.name} {role}", address or name))
        if role not in entry.alias:
            entry.alias += f", {role}"
        if group not in entry.groups:
            entry.groups.append(group)
        return entry

    def service(self, site: Site, host: str, role: str, service: Service) -> None:
        entry = self.host(site, host, role, group_name(site))
        service.host = entry.name
        for other in self.services:
            if other.host == entry.name and other.description == service.description:
                if other.site.name != site.name:
                    self.notes.append(f"{service.description} on {entry.name} is already checked for "
                                      f"{other.site.name}: not again for {site.name}")
                return
        self.services.append(service)


def group_name(site: Site) -> str:
    return f"gridready-{_name(site.name, 'site name')}"


def wn_group_name(site: Site) -> str:
    return f"gridready-{_name(site.name, 'site name')}-wn"


def add_site(plan: Plan, site: Site, rules: Rules, shared: Sequence[str], wns: Sequence[str]) -> None:
    """Add what ``site`` needs monitored to ``plan``; ``shared`` are the options every probe gets."""
    group = group_name(site)    # first: every later message names the site
    plan.sites.append(site)
    plan.groups[group] = f"{site.name} services checked by gridready"
    applies = {m.check for m in rules.milestones if m.scope.applies(site.name, site.tier)}
    pairs = _pairs(shared, site)
    for check, add in (("xrootd", _xrootd), ("dcache_version", _dcache), ("fts_channels", _fts),
                       ("glexec", _glexec)):
        if check not in applies:
            plan.notes.append(f"no milestone of check {check} applies to {site.name} (tier {site.tier})")
            continue
        add(plan, site, pairs, wns, shared)


def render(site: Site, rules: Rules, shared: Sequence[str], wns: Sequence[str], commands: str | None,
           inventory_path: str = "", rules_path: str = "", templates: str | None = None) -> str:
    """The whole Nagios output for one ``site``: pure, for a given inventory entry and rules."""
    plan = Plan()
    add_site(plan, site, rules, shared, wns)
    return render_plan(plan, commands, inventory_path, rules_path, templates=templates,
                       command_line=f"gridready nagios-config --site {site.name}")


#: The inventory field or option each probe option's value comes from, for messages.
_FIELDS = {"--bdii": "inventory bdii", "--srr": "inventory srr", "--site": "site name",
           "--inventory": "--inventory path", "--milestones": "--milestones path",
           "--channel-list": "inventory fts_channels"}


def _pairs(options: Sequence[str], site: Site) -> tuple[tuple[str, str], ...]:
    """``--opt value`` lists as pairs, each value checked now (so every format refuses the same)."""
    out = []
    for i in range(0, len(options) - 1, 2):
        option, value = options[i], options[i + 1]
        _argument(value, f"site {site.name}: {_FIELDS.get(option, f'value of {option}')}")
        out.append((option, value))
    return tuple(out)


def _args(options: Sequence[str], site: Site) -> str:
    """Probe options (``--opt value`` pairs) as check_command arguments; a value that cannot be
    written safely is refused naming the site and the field it came from."""
    out = []
    for i, value in enumerate(options):
        field = _FIELDS.get(options[i - 1], f"value of {options[i - 1]}") if i % 2 else "option"
        out.append(_argument(value, f"site {site.name}: {field}"))
    return " ".join(out)


def _flat(pairs: Sequence[tuple[str, str]]) -> list[str]:
    return [item for pair in pairs for item in pair]


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


def _xrootd(plan: Plan, site: Site, shared: tuple[tuple[str, str], ...], wns: Sequence[str],
            raw: Sequence[str]) -> None:
    if not site.xrootd:
        plan.notes.append(f"no xrootd doors listed for {site.name} in the inventory (xrootd:)")
    doors = [_host_port(door) for door in site.xrootd]
    options = _pairs(_source(site), site) + shared
    for host, port in doors:
        # The metric name alone unless one host has several doors.
        shared_host = sum(1 for h, _ in doors if h.lower() == host.lower()) > 1
        metric = METRICS["xrootd"] + (f"-{port}" if shared_host else "")
        plan.service(site, host, "xrootd door", Service(site, host, metric, "xrootd", options, port=port))


def _dcache(plan: Plan, site: Site, shared: tuple[tuple[str, str], ...], wns: Sequence[str],
            raw: Sequence[str]) -> None:
    source = _source(site)
    # Storage of unknown implementation is checked too: the probe reads the
    # implementation from the information system and says what it found.
    ses = [s.host for s in site.storage if s.implementation.casefold() in ("dcache", "")]
    if not ses:
        plan.notes.append(f"no dCache storage listed for {site.name} in the inventory (storage:)")
    elif not source:
        plan.notes.append(f"no bdii or srr for {site.name} in the inventory: the dCache version "
                          "service needs a data source (--bdii, --srr or --info)")
        return
    options = _pairs(source, site) + shared
    for host in ses:
        plan.service(site, host, "dCache SE",
                     Service(site, host, METRICS["dcache_version"], "dcache_version", options))


def _fts(plan: Plan, site: Site, shared: tuple[tuple[str, str], ...], wns: Sequence[str],
         raw: Sequence[str]) -> None:
    url = urlsplit(site.fts) if site.fts else None
    fts3 = (url is not None and url.scheme == "https" and bool(url.hostname)
            and url.path in ("", "/"))
    if url is not None and fts3 and url.hostname:
        # FTS3 answers only X.509-authenticated clients; the credential is the site's.
        plan.service(site, url.hostname, "FTS server",
                     Service(site, url.hostname, METRICS["fts_channels"], "fts_channels", shared,
                             port=url.port or FTS_PORT))
        plan.notes.append(f"add the X.509 credential the nagios user reads (--cert F --key F or "
                          f"--proxy F) to the {METRICS['fts_channels']} service of {site.name}")
        return
    if site.fts_channels:
        # An FTS 2 channel dump is a file on the monitoring host: the service goes on the
        # FTS 2 server named by fts: if there is one (its address is not contacted), else on
        # a host standing for the dump, at the loopback address.
        dump = _pairs(["--channel-list", site.fts_channels], site)[0][1]
        if url is not None and url.hostname:
            host, address = url.hostname, None
        else:
            host, address = f"fts-channel-list.{site.name}", DUMP_ADDRESS
        plan.host(site, host, "FTS 2 channel dump", group_name(site), address)
        plan.service(site, host, "FTS 2 channel dump",
                     Service(site, host, METRICS["fts_channels"], "fts_channel_list", shared, path=dump))
        return
    if site.fts:
        plan.notes.append(f"FTS source {site.fts} of {site.name} is not an https://host:port URL "
                          "of an FTS3 server and there is no channel dump (fts_channels:): no service "
                          "made for it")
    else:
        plan.notes.append(f"no FTS server listed for {site.name} in the inventory (fts: or fts_channels:)")


def _glexec(plan: Plan, site: Site, shared: tuple[tuple[str, str], ...], wns: Sequence[str],
            raw: Sequence[str]) -> None:
    if not wns:
        plan.notes.append(f"gLExec ({METRICS['glexec']}) is tested on a worker node: rerun with "
                          f"--site {site.name} --wn HOST to add it, checked through NRPE")
        return
    group = wn_group_name(site)
    plan.groups[group] = f"{site.name} worker nodes (gLExec)"
    for wn in wns:
        plan.host(site, _name(wn, "--wn"), "worker node", group_name(site))
        plan.host(site, wn, "worker node", group)
    plan.wn_groups[group] = (site, shared)
    plan.notes.append(f"on each worker node of {site.name}, nrpe.cfg needs: command[{NRPE_GLEXEC}]="
                      f"/usr/lib/nagios/plugins/check_glexec {shlex.join(raw)}")


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


def header(plan: Plan, command_line: str, inventory_path: str, rules_path: str, what: str,
           include: Sequence[str]) -> list[str]:
    """The comment lines every output starts with (without the comment marker)."""
    sites = ", ".join(f"{s.name} (tier {s.tier})" for s in plan.sites)
    return [f"{what} for the gridready probes of {sites},", f"made by `{command_line}` from",
            f"  inventory  {inventory_path}", f"  milestones {rules_path}", *include,
            "Service names are WLCG metric names (config/nagios/gridready-services.example.cfg).",
            "", *(f"NOTE: {note}" for note in plan.notes)]


def _check_command(service: Service) -> str:
    site = service.site
    options = _args(_flat(service.options), site)
    if service.kind == "xrootd":
        args = [str(service.port), options]
        command = "check_gridready_xrootd"
    elif service.kind == "dcache_version":
        args, command = [options], "check_gridready_dcache_version"
    elif service.kind == "fts_channels":
        args, command = [str(service.port), f"--capath {CAPATH} {options}"], "check_gridready_fts_channels"
    else:
        assert service.path is not None
        path = _argument(service.path, f"site {site.name}: inventory fts_channels")
        args, command = [path, options], "check_gridready_fts_channel_list"
    return "!".join((command, *args))


def _nrpe_command(port: int | None) -> str:
    if port is None or port == NRPE_PORT:
        return f"check_gridready_glexec_nrpe!{NRPE_GLEXEC}"
    return f"check_gridready_glexec_nrpe_port!{NRPE_GLEXEC}!{port}"


def render_plan(plan: Plan, commands: str | None, inventory_path: str, rules_path: str,
                templates: str | None = None, command_line: str = "gridready nagios-config") -> str:
    """Nagios 4 object definitions for ``plan``, after the command (and template) definitions."""
    include = ["Include with cfg_file=<this file> in nagios.cfg; the hosts and services build",
               "on the stock generic-host and generic-service templates"
               + (" (printed here: --with-templates)." if templates is not None else
                  " (--with-templates prints them).")]
    lines = header(plan, command_line, inventory_path, rules_path, "Nagios definitions", include)
    parts = ["\n".join(_comment("# " + line if line else "#") for line in lines) + "\n"]
    if templates is not None:
        parts.append(templates.rstrip("\n") + "\n")
    if commands is not None:
        parts.append(commands.rstrip("\n") + "\n")
    used = {g for h in plan.hosts.values() for g in h.groups}
    for group, alias in plan.groups.items():
        if group in used:
            parts.append(_block("hostgroup", [("hostgroup_name", group), ("alias", terminal(alias))]))
    for host in plan.hosts.values():
        parts.append(_block("host", [("use", "generic-host"), ("host_name", host.name),
                                     ("alias", terminal(host.alias)), ("address", host.address),
                                     ("hostgroups", ",".join(host.groups)), ("max_check_attempts", "3")]))
    for service in plan.services:
        parts.append(_block("service", [("use", "generic-service"), ("host_name", service.host),
                                        ("service_description", service.description),
                                        ("check_command", _check_command(service)), *SERVICE_TIMING]))
    for group in plan.wn_groups:
        # One service on the worker-node hostgroup: a WN added to the group is checked too.
        parts.append(_block("service", [("use", "generic-service"), ("hostgroup_name", group),
                                        ("service_description", METRICS["glexec"]),
                                        ("check_command", _nrpe_command(plan.nrpe_port)),
                                        *SERVICE_TIMING]))
    return "\n".join(parts)
