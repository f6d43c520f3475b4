"""Telling the admins straight through the channels, outside the outbox.

A rejected reload or a gateway outage has no incident to attach a message to, so it is
not planned or stored: it is sent once, best effort, on the first channel that reaches
each admin.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from markupsafe import escape

from crisisd.channels.base import Channel, OutboundMessage
from crisisd.library.model import Library

log = structlog.get_logger("crisisd.delivery.admins")


async def tell_admins(lib: Library, channels: Mapping[str, Channel], text: str) -> None:
    """Send ``text`` to every admin in ``lib.config.admins`` on their first reachable channel."""
    for who in lib.config.admins:
        contact = lib.directory.contacts.get(who)
        if contact is None:
            continue
        for name, channel in channels.items():
            address = contact.address_for(name)
            if address is None:
                continue
            result = await channel.send(
                OutboundMessage(
                    key=f"admin/{who}/{hash(text)}",
                    channel=name,
                    address=address,
                    text=text if channel.kind != "chat" else str(escape(text)),
                    subject=text.splitlines()[0][:80],
                    lang=contact.lang,
                )
            )
            log.info("admin.told", admin=who, channel=name, result=type(result).__name__)
            break
