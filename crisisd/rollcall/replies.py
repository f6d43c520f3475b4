"""Reading an SMS reply to a roll call: pure text rules, no I/O.

A reply is read in this order, after Persian and Arabic digits become ASCII and Arabic
ی/ک become Persian ones:

1. it starts with a reply code: ``1`` safe, ``2`` needs help (``۱``, ``١`` alike); anything
   after the code is kept as the person's free text (where they are);
2. otherwise it is read by its words: any word asking for help (کمک, help, sos, 🆘, …)
   makes it a call for help — a reply that says both is read as the more urgent one;
   else a word that says the person is safe (بله, سالمم, خوبم, ok, yes, ✅, …);
3. anything else — another number (``3``), an empty text, words we do not know — is
   *unreadable*: recorded and audited, never counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crisisd.domain import Answer
from crisisd.formats.timefmt import ascii_digits, normalize_persian
from crisisd.templates import clean_user_text

LOCATION_LIMIT = 200
_CODES = {"1": Answer.SAFE, "2": Answer.HELP}
_CODE = re.compile(r"^\s*([0-9]+)(?![0-9])[\s.,:;،؛\-=)]*(.*)$", re.DOTALL)
_HELP_WORDS = (
    "کمک",
    "امداد",
    "نجات",
    "مصدوم",
    "زخمی",
    "گیر افتاده",
    "help",
    "sos",
    "🆘",
)
_SAFE_WORDS = (
    "بله",
    "آره",
    "سالم",
    "خوبم",
    "خوب هستم",
    "امن",
    "yes",
    "ok",
    "okay",
    "safe",
    "fine",
    "✅",
    "👍",
)
_WORD = re.compile(r"[^\W\d_]+|[🆘✅👍]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a reply says: an answer (or None: unreadable), the free text, and why."""

    answer: Answer | None
    location: str = ""
    why: str = ""


def read_reply(text: str) -> Reply:
    """The answer in an SMS reply (see the module docstring for the rules)."""
    plain = normalize_persian(ascii_digits(text)).replace("\u200c", " ").strip()
    if not plain:
        return Reply(None, why="empty reply")
    code = _CODE.match(plain)
    if code is not None:
        answer = _CODES.get(code.group(1))
        if answer is None:
            return Reply(None, why=f"unknown reply code {code.group(1)} (1 = safe, 2 = help)")
        return Reply(answer, clean_user_text(code.group(2), LOCATION_LIMIT))
    lowered = plain.casefold()
    if any(_has(lowered, w) for w in _HELP_WORDS):
        return Reply(Answer.HELP, clean_user_text(plain, LOCATION_LIMIT))
    if any(_has(lowered, w) for w in _SAFE_WORDS):
        return Reply(Answer.SAFE, "")
    return Reply(None, why="no reply code and no word we know")


def _has(text: str, word: str) -> bool:
    """Whether ``word`` starts a word of ``text`` (so سالمم and سالم هستم both match سالم,
    and "ok" does not match "broken")."""
    if not word.isalpha():
        return word in text
    return re.search(rf"(?<![^\W\d_]){re.escape(word)}", text) is not None
