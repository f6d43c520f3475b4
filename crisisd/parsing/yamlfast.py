"""YAML to plain data straight from libyaml's events: the fast path of yamlsource.

PyYAML's own loader composes a node per value and resolves every scalar in Python; for
a directory of 100,000 contacts that is most of a start-up. Here the parser's events are
turned into dicts, lists and scalars directly, duplicate keys are reported where they
stand, and plain scalars that cannot be anything but text skip the resolver. Anything
this path does not handle the way PyYAML would (anchors, aliases, merge keys, explicit
tags, keys that are not scalars, several documents) answers :data:`NEEDS_NODES`, and the
caller takes the full node-based path instead.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import yaml

from crisisd.problems import Problem

NEEDS_NODES: Any = object()
_MISSING: Any = object()
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_SIMPLE = frozenset(
    "tag:yaml.org,2002:" + t for t in ("null", "bool", "int", "float", "timestamp", "str")
)


_SHARED_UP_TO = 12
_shared = sys.intern  # keys repeat in every entry of a directory: one string each


class _Fallback(Exception):
    """Something only the node-based loader handles as PyYAML would."""


class _Scalars:
    """Plain scalars resolved and constructed as PyYAML's SafeLoader does."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.first = frozenset(k for k in loader.yaml_implicit_resolvers if k is not None)
        self.cache: dict[str, Any] = {}

    def plain(self, value: str) -> Any:
        if value and value[0] not in self.first:
            # no implicit type starts with this character: text; short words (languages,
            # channel names) are shared, not held once per contact
            return _shared(value) if len(value) <= _SHARED_UP_TO else value
        found = self.cache.get(value, _MISSING)
        if found is not _MISSING:  # keys such as name, fa, telegram come again and again
            return found
        tag = self.loader.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if tag not in _SIMPLE:
            raise _Fallback
        if tag == _STR:
            out = _shared(value) if len(value) <= _SHARED_UP_TO else value
        else:  # null, bool, int, float, timestamp: immutable, so one object may serve all
            out = self.loader.construct_object(yaml.ScalarNode(tag, value), deep=True)
        if len(self.cache) < 10_000:
            self.cache[value] = out
        return out


Entries = tuple[str, Callable[[str, Any], Any]]


def fast_data(
    text: str, shown: str, problems: list[Problem], entries: Entries | None = None
) -> Any:
    """The data of ``text`` (None for an empty document), or :data:`NEEDS_NODES`.

    ``entries`` = (key, take): each entry of the top-level mapping ``key`` is passed, as
    soon as it is read, to ``take(entry_key, value)``, and what it returns is kept instead
    (a directory's contacts become models one by one, so raw entries never pile up).
    """
    loader = _Loader(text)
    # Building makes a container per entry and no cycles: the collector's passes over a
    # growing heap would only cost time (a third of a large directory's parse).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(loader, shown, problems, entries)
    except _Fallback:
        return NEEDS_NODES
    finally:
        if collecting:
            gc.enable()
        loader.dispose()


_SCALAR, _MAP, _SEQ = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _build(
    loader: yaml.SafeLoader, shown: str, problems: list[Problem], entries: Entries | None
) -> Any:
    # One pass over the events with everything hot bound to a local: a province's
    # directory is ~340,000 events, and each attribute look-up or call here is paid per
    # event (the loop costs about as much as libyaml's parsing itself).
    scalars = _Scalars(loader)
    first, plain, get_event = scalars.first, scalars.plain, loader.get_event
    entry_key, take = entries if entries is not None else (None, None)
    # Each open collection: [container, pending key or None, {key: line} (None: a list)].
    stack: list[list[Any]] = []
    top: list[Any] | None = None
    root: Any = None
    documents = 0
    while (event := get_event()) is not None:  # type: ignore[no-untyped-call]
        kind = type(event)
        if kind is _SCALAR:
            if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                raise _Fallback
            value: Any = event.value
            if event.implicit[0]:  # plain: text unless it starts as an implicit type does
                if value and value[0] not in first:
                    value = _shared(value) if len(value) <= _SHARED_UP_TO else value
                else:
                    value = plain(value)
        elif kind is _MAP or kind is _SEQ:
            if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                raise _Fallback
            if top is not None and top[2] is not None and top[1] is None:
                raise _Fallback  # a collection used as a key
            top = [{}, None, {}] if kind is _MAP else [[], None, None]
            stack.append(top)
            continue
        elif kind in _ENDS:
            value = stack.pop()[0]
            top = stack[-1] if stack else None
        else:  # stream and document starts and ends, aliases
            documents += kind is yaml.DocumentStartEvent
            if kind is yaml.AliasEvent or documents > 1:
                raise _Fallback  # the composer reports several documents
            continue
        if top is None:
            root = value
        elif top[2] is None:  # a sequence
            top[0].append(value)
        elif top[1] is None:  # a mapping's key
            key = _key(value)
            line = top[2].get(key)
            if line is not None:
                problems.append(_duplicate(shown, event, stack, key, line))
                top[1] = _SKIP
            else:
                top[2][key] = event.start_mark.line + 1
                top[1] = key
        else:  # a mapping's value
            if top[1] is not _SKIP:
                if take is not None and len(stack) == 2 and stack[0][1] == entry_key:
                    value = take(top[1], value)
                top[0][top[1]] = value
            top[1] = None
    return root


def _key(value: Any) -> str:
    if type(value) is str:
        if value == "<<":
            raise _Fallback  # a merge key: the node path resolves it
        return _shared(value)
    if not isinstance(value, int | bool | float):
        raise _Fallback
    return _shared(str(value))


_SKIP: Any = object()


Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    """``("audiences", "press", "members", 2)`` → ``audiences.press.members[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _duplicate(shown: str, event: Any, stack: list[list[Any]], key: str, first: int) -> Problem:
    loc: list[str | int] = []
    for container, pending, _lines in stack[:-1]:
        loc.append(len(container) if isinstance(container, list) else pending)
    return Problem(
        shown,
        event.start_mark.line + 1,
        event.start_mark.column + 1,
        dotted((*loc, key)),
        f"duplicate key '{key}' (first defined on line {first})",
        "YAML would silently keep only the last one; merge them or rename one",
    )
