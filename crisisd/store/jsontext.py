"""JSON as the store writes it: text in UTF-8 as it is, not escaped.

``json.dumps`` escapes every non-ASCII letter by default (``\\u06a9``: six bytes where UTF-8
takes two), and the outbox is mostly Persian: a message's renderings and the audit's copy of
each text sent took three times the room, rewritten by every claim and record and copied by
every checkpoint. Text holding a lone surrogate (possible in a str decoded from hostile JSON,
``"\\ud800"``) cannot be written as UTF-8: such a document is escaped as before. Both read
back the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
# the C encoders json.dumps uses for a str (with and without ensure_ascii)
_plain = json.encoder.encode_basestring
_ascii = json.encoder.encode_basestring_ascii


def dumps(value: Any) -> str:
    """``value`` as a JSON document (the store's JSON columns; engine.py)."""
    text = json.dumps(value, ensure_ascii=False)
    return json.dumps(value) if _SURROGATE.search(text) else text


def string(value: str) -> str:
    """``value`` as a JSON string, exactly as :func:`dumps` writes it inside a document."""
    text: str = _plain(value)
    return _ascii(value) if _SURROGATE.search(text) else text
