"""WLCG metricOutput messages for probe results, ready for a message broker. Pure.

The SAM/Nagios message format: ``key: value`` lines ended by a line ``EOT``.
``detailsData`` may span several lines, so it comes last, just before
``EOT``; a details line that is exactly ``EOT`` is indented so it cannot end
the message early. Every value is made one line (``_one_line``), so no value
from an ingested result can add a field or end the message. Times are UTC ``%Y-%m-%dT%H:%M:%SZ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from gridready import escape
from gridready.compliance import deadline_note
from gridready.result import ProbeResult, format_time

#: check -> (metricName, serviceFlavour). The names are the Nagios service
#: names of config/nagios (org.sam for the metric WLCG SAM defines, org.gridready
#: for gridready's own), so a result reads the same in Nagios and on the broker.
METRICS: Mapping[str, tuple[str, str]] = {
    "glexec": ("org.sam.glexec.WN-gLExec", "CE"),
    "xrootd": ("org.gridready.xrootd.SE-xrootd-Protocol", "XROOTD"),
    "dcache_version": ("org.gridready.dcache.SE-dCache-Version", "SRMv2"),
    "fts_channels": ("org.gridready.fts.FTS-Channels", "FTS"),
}


def _one_line(text: str) -> str:
    """``text`` as one field value: any run of blanks and line breaks one space, so no
    value can start a ``key:`` line or an ``EOT``; other control characters as ``\\xNN``."""
    return escape.one_line(" ".join(text.split()))


def host_name(service: str) -> str:
    """The bare host of ``host``, ``host:port`` or a URL (``[v6]:port`` too)."""
    if "://" in service:
        return urlsplit(service).hostname or ""
    if service.startswith("["):
        return service[1:service.find("]")] if "]" in service else service
    return service.rsplit(":", 1)[0] if service.count(":") == 1 else service


def details_lines(result: ProbeResult) -> list[str]:
    lines = []
    for m in result.milestones:
        note = deadline_note(m.compliance, m.deadline, m.days_left)
        lines.append(f"[{m.state.name}] {_one_line(m.id)}: {_one_line(m.message)} ({note})")
    lines.extend(_one_line(d) for d in result.details)
    return [f" {line}" if line.strip() == "EOT" else line for line in lines]


def message(result: ProbeResult, now: datetime, vo: str | None = None) -> str:
    """One metricOutput message for ``result``, ending with ``EOT\\n``."""
    metric, flavour = METRICS.get(result.check, (f"org.gridready.{result.check}", result.check.upper()))
    service = result.host or ""
    fields = [("serviceURI", service), ("hostName", host_name(service)), ("serviceFlavour", flavour),
              ("siteName", result.site or ""), ("metricStatus", result.state.name), ("metricName", metric),
              ("summaryData", _one_line(result.summary)), ("gatheredAt", format_time(result.checked_at)),
              ("timestamp", format_time(now))]
    if vo:
        fields.append(("voName", _one_line(vo)))
    lines = [f"{key}: {_one_line(value)}" for key, value in fields]
    lines.append("detailsData: " + "\n".join(details_lines(result)))
    lines.append("EOT")
    return "\n".join(lines) + "\n"
