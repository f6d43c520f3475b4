"""Incidents as OASIS CAP 1.2 alerts, and an Atom index of them, for provincial
crisis-management systems. Drills never appear here (the caller leaves them out; this
module refuses one).

The mapping (docs/dashboard.md has the table):

- ``status`` Actual; ``scope`` Restricted (the feed is for authorities, behind a token).
- ``msgType`` Alert while nothing changed; Update after an update statement, a takeover or
  the all-clear (``responseType`` AllClear); Cancel for an incident withdrawn as reported
  by mistake. Update and Cancel reference the first Alert (same sender, ``<id>.0``).
- ``urgency`` Immediate while open or taken over; Past once resolved or cancelled.
- ``severity`` from the playbook's severity key: critical → Extreme, major → Severe,
  moderate → Moderate, minor → Minor; any other key → Unknown (we do not guess).
- ``certainty`` Observed: an officer inside the factory reported it.
- ``category`` from the incident type: fire and explosion → Fire, chemical leaks → CBRNE,
  injuries → Health, power outages → Infra; any other type → Safety (an industrial
  accident threatens people's safety).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from crisisd.domain import IncidentStatus
from crisisd.library.model import Library
from crisisd.store import IncidentRow

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"

SEVERITY = {
    "critical": "Extreme",
    "extreme": "Extreme",
    "major": "Severe",
    "severe": "Severe",
    "moderate": "Moderate",
    "minor": "Minor",
}
CATEGORY = {
    "fire": "Fire",
    "explosion": "Fire",
    "chemical_leak": "CBRNE",
    "gas_leak": "CBRNE",
    "injury": "Health",
    "power_outage": "Infra",
}
LANGS = (("fa", "fa-IR"), ("en", "en-US"))


def cap_time(at: datetime, zone: ZoneInfo) -> str:
    """CAP's dateTime: seconds, an explicit offset, no fraction (e.g. 2026-12-04T10:30:00+03:30)."""
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def msg_type(row: IncidentRow) -> str:
    if row.status == IncidentStatus.CANCELLED:
        return "Cancel"
    if row.update_number or row.status != IncidentStatus.OPEN:
        return "Update"
    return "Alert"


def identifier(row: IncidentRow, version: int | None = None) -> str:
    """``<incident id>.<version>``: 0 for the first Alert, then one more per change."""
    if version is None:
        version = row.update_number + (row.status != IncidentStatus.OPEN)
    return f"{row.id}.{version}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = CAP_NS) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = text
    return el


def cap_alert(row: IncidentRow, lib: Library, *, sender: str, web: str, zone: ZoneInfo) -> bytes:
    """One incident as a CAP 1.2 ``alert`` document (UTF-8 bytes with the XML declaration)."""
    if row.drill:
        raise ValueError(f"{row.id} is a drill; drills never appear in the CAP feed")
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    kind = msg_type(row)
    _sub(alert, "identifier", identifier(row))
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(row.updated_at, zone))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", kind)
    _sub(alert, "source", row.source[:64])
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", "For provincial crisis-management and PR authorities")
    if kind != "Alert":
        first = f"{sender},{identifier(row, 0)},{cap_time(row.opened_at, zone)}"
        _sub(alert, "references", first)
    for lang, tag in LANGS:
        _info(alert, row, lib, lang, tag, web)
    ET.indent(alert)
    return bytes(ET.tostring(alert, "utf-8", xml_declaration=True, default_namespace=CAP_NS))


def _info(alert: ET.Element, row: IncidentRow, lib: Library, lang: str, tag: str, web: str) -> None:
    pb = lib.playbooks.get(row.factory)
    factory = pb.factory.name.get(lang) if pb else row.factory
    itype = pb.incidents.get(row.incident_type) if pb else None
    event = itype.name.get(lang) if itype else row.incident_type
    closed = row.status in (IncidentStatus.RESOLVED, IncidentStatus.CANCELLED)
    info = _sub(alert, "info")
    _sub(info, "language", tag)
    _sub(info, "category", CATEGORY.get(row.incident_type, "Safety"))
    _sub(info, "event", event)
    if row.status == IncidentStatus.RESOLVED:
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", "Past" if closed else "Immediate")
    _sub(info, "severity", SEVERITY.get(row.severity, "Unknown"))
    _sub(info, "certainty", "Observed")
    _sub(info, "senderName", factory)
    _sub(info, "headline", f"{factory}: {event}"[:160])
    text = row.update_details or row.details
    if text:
        _sub(info, "description", text)
    _sub(info, "web", web)
    for name, value in (
        ("casualties", row.casualties),
        ("crisisd-status", row.status.value),
        ("crisisd-severity", row.severity),
    ):
        param = _sub(info, "parameter")
        _sub(param, "valueName", name)
        _sub(param, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", f"{factory} — {row.location}" if row.location else factory)


def atom_index(
    rows: Sequence[IncidentRow],
    lib: Library,
    *,
    base: str,
    feed_url: str,
    updated: datetime,
    zone: ZoneInfo,
    next_url: str | None = None,
) -> bytes:
    """An Atom feed with one entry per incident, each linking to its CAP alert."""
    feed = ET.Element("feed", xmlns=ATOM_NS)
    _plain(feed, "id", feed_url)
    _plain(feed, "title", "crisisd — CAP alerts")
    _plain(feed, "updated", cap_time(updated, zone))
    author = _plain(feed, "author", None)
    _plain(author, "name", "crisisd")
    ET.SubElement(feed, "link", rel="self", href=feed_url)
    if next_url:
        ET.SubElement(feed, "link", rel="next", href=next_url)
    for row in rows:
        pb = lib.playbooks.get(row.factory)
        itype = pb.incidents.get(row.incident_type) if pb else None
        title = " — ".join(
            filter(
                None, [pb.factory.name.fa if pb else row.factory, itype.name.fa if itype else None]
            )
        )
        entry = _plain(feed, "entry", None)
        _plain(entry, "id", f"{base}/cap/{row.id}.xml#{identifier(row)}")
        _plain(entry, "title", f"{row.id} {title} ({msg_type(row)})")
        _plain(entry, "updated", cap_time(row.updated_at, zone))
        ET.SubElement(
            entry,
            "link",
            rel="alternate",
            type=CAP_TYPE,
            href=f"{base}/cap/{row.id}.xml",
        )
    ET.indent(feed)
    return bytes(ET.tostring(feed, "utf-8", xml_declaration=True))


def _plain(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    """An Atom element: the feed's own xmlns makes its children Atom's."""
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el
