"""Subject, From and To for non-ASCII (Persian) text, encoded so that folding keeps spaces.

Python's header folder splits a long Persian subject into RFC 2047 encoded-words and may
leave a space *between* two encoded-words, where RFC 2047 (section 6.2) says a reader
must drop it: "(جدی) در رنگ و شیمی" arrived as "(جدی) دررنگ و شیمی". Here every space
travels inside an encoded-word, each line stays within 78 characters (so no generator
refolds it); an ASCII subject is folded before a space.
"""

from __future__ import annotations

import base64
import re
from email.headerregistry import Address
from email.message import EmailMessage

LINE = 78  # RFC 5322's recommended line length
_PREFIX = "=?utf-8?b?"
_SUFFIX = "?="


def encoded_words(text: str, first_room: int) -> str:
    """``text`` as base64 encoded-words joined by folding white space (CRLF + space).

    ``first_room``: characters left on the first line after ``Name: ``. Characters are
    never split across words (RFC 2047 section 5: each word decodes on its own).
    """
    words: list[bytes] = []
    current = b""
    room = first_room
    for ch in text:
        raw = ch.encode("utf-8")
        if current and _width(len(current) + len(raw)) > room:
            words.append(current)
            current = b""
            room = LINE - 1  # a continuation line starts with one space
        current += raw
    words.append(current)
    return "\r\n ".join(_PREFIX + base64.b64encode(w).decode("ascii") + _SUFFIX for w in words)


def _width(n_bytes: int) -> int:
    return len(_PREFIX) + 4 * ((n_bytes + 2) // 3) + len(_SUFFIX)


def set_text_header(mail: EmailMessage, name: str, value: str) -> None:
    """An unstructured header (Subject) that decodes to exactly ``value``."""
    value = " ".join(value.split())  # no CR/LF or runs of white space from a template
    room = LINE - len(name) - 2
    if value.isascii():
        mail.set_raw(name, _fold_ascii(value, room))
    else:
        mail.set_raw(name, encoded_words(value, room))


def _fold_ascii(text: str, room: int) -> str:
    """Fold before a space (unfolding removes only the CRLF, so the space stays)."""
    lines: list[str] = []
    line = ""
    for i, word in enumerate(text.split(" ")):
        piece = word if i == 0 else " " + word
        if line and len(line) + len(piece) > room:
            lines.append(line)
            line, room = piece, LINE
        else:
            line += piece
    lines.append(line)
    return "\r\n".join(lines)


def set_address_header(mail: EmailMessage, name: str, address: Address) -> None:
    """From/To with a display name in any script; the address itself stays plain ASCII.

    The display name is one encoded-word, never split: RFC 2047 readers join adjacent
    encoded-words of a phrase while Python's own parser puts a space between them, so
    a split name reads as "مل ارد" in one of the two. A long name makes a long line (up to
    RFC 5322's 998), which is sent as is: the message is flattened with refolding off.
    """
    display = " ".join(address.display_name.split())
    if display.isascii() or not display:
        mail[name] = address
        return
    mail.set_raw(name, _encoded_address(name, display, address.addr_spec))


def address_line(name: str, display_name: str, addr_spec: str) -> bytes | None:
    """The line :func:`set_address_header` gives, CRLF included, built without a message.

    None where only the standard library can say what it writes: an ASCII name it would
    quote (``Rezaei, M.``) or a line it would fold.
    """
    display = " ".join(display_name.split())
    if display and not display.isascii():
        return f"{name}: {_encoded_address(name, display, addr_spec)}\r\n".encode("ascii")
    if not display_name:
        line = f"{name}: {addr_spec}"
    elif _ATOMS.fullmatch(display_name) is not None:
        line = f"{name}: {display_name} <{addr_spec}>"
    else:
        return None
    return (line + "\r\n").encode("ascii") if len(line) <= LINE and line.isascii() else None


# Words of RFC 5322 atext (section 3.2.3) with single spaces: a phrase written unquoted.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _encoded_address(name: str, display: str, spec_address: str) -> str:
    word = _PREFIX + base64.b64encode(display.encode("utf-8")).decode("ascii") + _SUFFIX
    spec = f"<{spec_address}>"
    first = len(name) + 2 + len(word)
    if first <= LINE:
        return word + (" " if first + 1 + len(spec) <= LINE else "\r\n ") + spec
    return "\r\n " + word + "\r\n " + spec
