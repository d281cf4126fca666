"""``gridready nagios-config --format icinga2``: the sites' plan as Icinga 2 objects.

Writes, for the :class:`~gridready.commands.nagios_config.Plan` made from the
inventory, one ``HostGroup`` per site (and per site's worker nodes), one
``Host`` per door, storage element and FTS host, one ``Service`` per check
target using the CheckCommands of ``config/nagios/icinga2/gridready.conf``
(printed first unless ``--no-commands``), and for gLExec an ``apply Service``
rule assigned to the worker-node hostgroup. ``icinga2 daemon -C`` validates
the output together with the ITL (``include <itl>``, ``include <plugins>``).

Untrusted values (inventory fields, paths) only ever go into double-quoted
DSL strings: a control character is refused (as for Nagios, naming the site
and field), ``\\`` and ``"`` are escaped, and ``$`` is written ``$$``
because Icinga 2 resolves ``$name$`` macros in custom variables when it
builds the command line. Object names are the same plain names the Nagios
output allows, so no name holds ``!`` (Icinga's host!service separator),
quotes or braces. The DSL syntax is from the Icinga 2 language reference
(string literals and their escapes, macros and ``$$``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from gridready import bundled
from gridready.commands.nagios_config import (CAPATH, METRICS, Plan, Service, _comment,
                                              _name, header)
from gridready.errors import GridreadyError
from gridready.escape import has_control

#: The custom variable of gridready.conf each probe option is passed in.
_VARS = {"--site": "gridready_site", "--bdii": "gridready_bdii", "--srr": "gridready_srr",
         "--inventory": "gridready_inventory", "--milestones": "gridready_milestones"}
#: The CheckCommand of gridready.conf for each kind of service.
_COMMANDS = {"xrootd": "gridready_xrootd", "dcache_version": "gridready_dcache_version",
             "fts_channels": "gridready_fts_channels", "fts_channel_list": "gridready_fts_channels"}
_TIMING = ("check_interval = 1h", "retry_interval = 15m", "max_check_attempts = 3")


def conf_file() -> str:
    return str(bundled.config_dir() / "nagios" / "icinga2" / "gridready.conf")


def check_commands(plugin_dir: str | None) -> str:
    """The shipped CheckCommands, with ``PluginDir + "/check_x"`` made absolute if ``plugin_dir``."""
    from gridready.localfile import read_text

    text = read_text(conf_file(), what="Icinga 2 CheckCommand definitions")
    if plugin_dir is None:
        return text
    from pathlib import Path

    directory = string(_name(str(Path(plugin_dir).resolve()), "--plugin-dir"), "--plugin-dir", macros=False)
    return re.sub(r'PluginDir \+ "/', lambda m: directory[:-1] + "/", text)


def string(value: str, what: str, macros: bool = True) -> str:
    """``value`` as an Icinga 2 string literal.

    Control characters are refused (a line break has no place in a host name
    or a path, and the message must stay one line); backslash and double quote
    are escaped; ``$`` becomes ``$$`` where Icinga 2 would expand macros.
    """
    if has_control(value):
        raise GridreadyError(f"{what} {value!r} cannot go into an Icinga 2 string: it holds control characters")
    text = value.replace("\\", "\\\\").replace('"', '\\"')
    if macros:
        text = text.replace("$", "$$")
    return f'"{text}"'


def _object(kind: str, name: str, lines: Sequence[str]) -> str:
    body = "".join(f"  {line}\n" for line in lines)
    return f"object {kind} {json.dumps(name)} {{\n{body}}}\n"


def _vars(service: Service) -> list[str]:
    site = service.site
    out = []
    for option, value in service.options:
        var = _VARS.get(option)
        if var is None:
            raise GridreadyError(f"site {site.name}: option {option} has no Icinga 2 variable")
        field = "site name" if option == "--site" else f"inventory {option[2:]}"
        out.append(f"vars.{var} = {string(value, f'site {site.name}: {field}')}")
    if service.kind == "xrootd":
        out.append(f"vars.gridready_xrootd_port = {service.port}")
    elif service.kind == "fts_channels":
        out.append(f'vars.gridready_fts_url = "https://{service.host}:{service.port}"')
        out.append(f"vars.gridready_capath = {string(CAPATH, 'capath')}")
    elif service.kind == "fts_channel_list":
        assert service.path is not None
        out.append(f"vars.gridready_fts_channel_list = "
                   f"{string(service.path, f'site {site.name}: inventory fts_channels')}")
    return out


def render_plan(plan: Plan, commands: str | None, inventory_path: str, rules_path: str,
                command_line: str = "gridready nagios-config --format icinga2") -> str:
    """Icinga 2 objects for ``plan``, after the CheckCommands if ``commands`` is given."""
    include = ["Put it in a zone's conf.d next to icinga2/gridready.conf (or use the CheckCommands",
               "printed here); hosts use the ITL's hostalive check."]
    lines = header(plan, command_line, inventory_path, rules_path, "Icinga 2 objects", include)
    # '//' comments end at the line break; _comment shows control characters as \xNN.
    parts = ["\n".join(_comment("// " + line if line else "//") for line in lines) + "\n"]
    if commands is not None:
        parts.append(commands.rstrip("\n") + "\n")
    used = {g for h in plan.hosts.values() for g in h.groups}
    for group, alias in plan.groups.items():
        if group in used:
            parts.append(_object("HostGroup", group, [f"display_name = {string(alias, 'hostgroup alias')}"]))
    for host in plan.hosts.values():
        groups = ", ".join(json.dumps(g) for g in host.groups)
        parts.append(_object("Host", host.name, [
            'check_command = "hostalive"', f"display_name = {string(host.alias, 'host alias')}",
            f"address = {json.dumps(host.address)}", f"groups = [ {groups} ]"]))
    for service in plan.services:
        parts.append(_object("Service", service.description, [
            f"host_name = {json.dumps(service.host)}", f'check_command = "{_COMMANDS[service.kind]}"',
            *_TIMING, *_vars(service)]))
    for group, (site, options) in plan.wn_groups.items():
        shell = Service(site, "", METRICS["glexec"], "glexec", options)
        body = ['check_command = "gridready_glexec"', *_TIMING, *_vars(shell),
                "// gLExec is tested on the worker node: through the Icinga 2 agent there",
                "// (set vars.agent_endpoint on the host), or by an Icinga running on it.",
                "if (host.vars.agent_endpoint) {", "  command_endpoint = host.vars.agent_endpoint", "}",
                f"assign where {json.dumps(group)} in host.groups"]
        text = "".join(f"  {line}\n" for line in body)
        parts.append(f"apply Service {json.dumps(METRICS['glexec'])} {{\n{text}}}\n")
    return "\n".join(parts)
