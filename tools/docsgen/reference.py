"""docs/playbooks.md, generated from crisisd's own models and code.

``python -m tools.docsgen > docs/playbooks.md`` writes it. The reference part, here, walks
the pydantic models (:class:`~crisisd.playbook.Playbook`, :class:`~crisisd.playbook.Directory`,
:class:`~crisisd.config.Config`) field by field: YAML key, type in words, whether it is
required, its default and its ``description``. The guide part is written by hand: a sample
playbook walked through step by step, value syntax, approvals and secrets in
:mod:`tools.docsgen.guide`, templates in :mod:`tools.docsgen.templates`, the sample files in
:mod:`tools.docsgen.sample`. Whatever in it can be computed is: the duration, due-time and
cron examples are parsed by crisisd's own parsers, the filter examples are rendered by the
template environment.

``tests/test_docs.py`` fails when the committed file differs from :func:`playbook_reference`,
when a model field has no description, when
:data:`~tools.docsgen.templates.TEMPLATE_VARIABLES` is not exactly what
:func:`crisisd.planning.render.template_context` gives templates, and when the samples stop
validating.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import yaml
from pydantic import BaseModel, BeforeValidator, SecretStr
from pydantic.fields import FieldInfo

from crisisd import config as config_module
from crisisd import playbook as playbook_module
from crisisd.config import Config
from crisisd.formats.durations import Due, format_duration
from crisisd.playbook import Directory, Playbook
from tools.docsgen.guide import (
    approvals_section,
    intro_section,
    secrets_section,
    values_section,
    walkthrough_section,
)
from tools.docsgen.markdown import check_anchors, prose, slug, table_cell, toc
from tools.docsgen.templates import templates_section

# -- the files documented, and the models that describe them ------------------------------


@dataclass(frozen=True, slots=True)
class Root:
    """One kind of file and the model its whole content is validated against."""

    label: str  # short name used after paths, e.g. "directory"
    title: str
    file: str
    model: type[BaseModel]


ROOTS: tuple[Root, ...] = (
    Root("playbook", "Playbook", "playbooks/<factory-id>.yaml", Playbook),
    Root("directory", "Contacts directory", "playbooks/directory.yaml", Directory),
    Root("config", "Daemon configuration", "config.yaml", Config),
)

# What a mapping's keys are called in the paths shown (`audiences.<audience>`).
KEY_NAMES = {
    "audiences": "<audience>",
    "incidents": "<incident-type>",
    "severities": "<severity>",
    "contacts": "<contact-id>",
    "chats": "<messenger>",
    "headers": "<header>",
}

_VALIDATOR_WORDS: dict[Callable[..., Any], str] = {
    playbook_module._duration: "[duration](#durations)",
    playbook_module._due: "[due time](#due-times)",
    playbook_module._phone: "[phone number](#phone-numbers)",
}
_PATTERN_WORDS = {
    playbook_module.NAME_ID: "[id](#ids)",
    config_module.NAME_ID: "[id](#ids)",
    playbook_module.CONTACT_ID: "[contact id](#ids)",
    r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*$": "`<incident-type>/<severity>`",
    r"^[0-9a-f]{64}$": "64 lower-case hex digits",
}
_BASIC_WORDS: dict[Any, str] = {
    str: "text",
    int: "whole number",
    float: "number",
    bool: "`true` or `false`",
    timedelta: "[duration](#durations)",
    Due: "[due time](#due-times)",
    Path: "path",
    SecretStr: "[secret reference](#secrets-in-configyaml)",
    date: "date",
}


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _children(tp: Any, path: str, key: str) -> list[tuple[type[BaseModel], str]]:
    """The models inside an annotation, each with the YAML path that leads to it."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _children(get_args(tp)[0], path, key)
    if _is_model(tp):
        return [(tp, path)]
    if _is_union(tp):
        return [found for arg in get_args(tp) for found in _children(arg, path, key)]
    if origin is list:
        return _children(get_args(tp)[0], f"{path}[]", key)
    if origin is dict:
        return _children(get_args(tp)[1], f"{path}.{KEY_NAMES.get(key, '<key>')}", key)
    return []


def shown_fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    """(YAML key, field) for every field a file may set; internal fields are left out."""
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        yield info.alias or name, info


@dataclass(slots=True)
class _Found:
    root: Root
    paths: list[tuple[Root, str]]


def _collect() -> dict[type[BaseModel], _Found]:
    """Every model reachable from the roots, in reading order, with every path to it."""
    found: dict[type[BaseModel], _Found] = {}

    def visit(root: Root, model: type[BaseModel], path: str, depth: int) -> None:
        if depth > 20:
            raise RuntimeError(f"models nest too deep at {path}")
        if model not in found:
            found[model] = _Found(root, [])
        found[model].paths.append((root, path))
        for key, info in shown_fields(model):
            child = f"{path}.{key}" if path else key
            for sub, subpath in _children(info.annotation, child, key):
                visit(root, sub, subpath, depth + 1)

    for root in ROOTS:
        visit(root, root.model, "", 0)
    return found


def documented_models() -> list[type[BaseModel]]:
    """Every model the reference documents (the test checks each has descriptions)."""
    return list(_collect())


# -- a field in words --------------------------------------------------------------------


def _flatten(meta: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in meta:
        out.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return out


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _constraints(meta: list[Any], tp: Any) -> list[str]:
    words: list[str] = []
    ge = next((m.ge for m in meta if isinstance(m, at.Ge)), None)
    le = next((m.le for m in meta if isinstance(m, at.Le)), None)
    if ge is not None and le is not None:
        words.append(f"{_number(ge)} to {_number(le)}")
    elif ge is not None:
        words.append(f"{_number(ge)} or more")
    elif le is not None:
        words.append(f"at most {_number(le)}")
    for m in meta:
        if isinstance(m, at.Gt):
            words.append(f"more than {_number(m.gt)}")
        elif isinstance(m, at.Lt):
            words.append(f"less than {_number(m.lt)}")
        elif isinstance(m, at.MinLen):
            text = tp in (str, SecretStr)
            unit = "character" if text else ("entry" if get_origin(tp) is dict else "item")
            plural = {"entry": "entries"}.get(unit, unit + "s")
            words.append(f"at least {m.min_length} {unit if m.min_length == 1 else plural}")
        elif isinstance(m, at.MaxLen):
            words.append(f"at most {m.max_length} characters")
    return words


def _special(meta: list[Any]) -> str | None:
    for m in meta:
        if isinstance(m, BeforeValidator) and m.func in _VALIDATOR_WORDS:
            return _VALIDATOR_WORDS[m.func]
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str):
            return _PATTERN_WORDS.get(pattern, f"text matching `{pattern}`")
    return None


def _plural(words: str) -> str:
    """``[contact id](#ids)`` -> ``[contact ids](#ids)``; model links stay as they are."""
    link = re.fullmatch(r"\[([^\]]+)\]\((#[^)]+)\)", words)
    if link is not None:
        label, target = link.groups()
        return words if label[:1].isupper() else f"[{label}s]({target})"
    if words in ("text", "whole number", "number", "path"):
        return f"{words}s"
    return words


def type_words(tp: Any, meta: list[Any] | None = None) -> str:
    """An annotation as a reader says it: ``list of [contact ids](#ids), at least 1 item``."""
    meta = _flatten(list(meta or []))
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return type_words(base, [*_flatten(extra), *meta])
    if _is_union(tp):
        parts = [arg for arg in get_args(tp) if arg is not type(None)]
        return " or ".join(type_words(arg, meta) for arg in parts)
    special = _special(meta)
    if special is not None:
        noun = special
    elif origin is Literal:
        noun = "one of " + ", ".join(f"`{value}`" for value in get_args(tp))
    elif origin is list:
        noun = "list of " + _plural(type_words(get_args(tp)[0]))
    elif origin is dict:
        key, value = get_args(tp)
        noun = f"mapping of {type_words(key)} → {type_words(value)}"
    elif _is_model(tp):
        noun = f"[{tp.__name__}](#{slug(tp.__name__)})"
    else:
        noun = _BASIC_WORDS.get(tp, getattr(tp, "__name__", str(tp)))
    return ", ".join([noun, *_constraints(meta, tp)])


def _flow(value: object) -> str:
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000
    )
    return text.strip().removesuffix("...").strip()


def default_words(info: FieldInfo) -> str:
    """The default as it would be written in YAML; ``—`` when unset."""
    if info.is_required():
        return "—"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "— (unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    if isinstance(value, str | Path):
        return f"`{value}`"
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        return f"`{_flow(dumped)}`" if dumped else "all defaults"
    if isinstance(value, list | dict):
        if not value:
            return "`[]`" if isinstance(value, list) else "`{}`"
        items = [
            v.model_dump(mode="json", exclude_defaults=True, by_alias=True)
            if isinstance(v, BaseModel)
            else v
            for v in value
        ]
        return f"`{_flow(items)}`"
    return f"`{value}`"


def _doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__") or ""
    return prose(" ".join(doc.split()))


def _model_section(model: type[BaseModel], found: _Found) -> list[str]:
    out = [f"### {model.__name__}", ""]
    if _doc(model):
        out += [_doc(model), ""]
    places = []
    for root, path in found.paths:
        where = f"`{path}`" if path else f"the whole of `{root.file}`"
        if root is not found.root and path:
            where += f" ({root.label})"
        if where not in places:
            places.append(where)
    out += ["Found at: " + ", ".join(places) + ".", ""]
    out += [
        "| key | type | required | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, info in shown_fields(model):
        out.append(
            "| "
            + " | ".join(
                table_cell(cell)
                for cell in (
                    f"`{key}`",
                    type_words(info.annotation, info.metadata),
                    "yes" if info.is_required() else "no",
                    default_words(info),
                    prose(info.description or ""),
                )
            )
            + " |"
        )
    out.append("")
    return out


def _reference() -> list[str]:
    found = _collect()
    out: list[str] = []
    for root in ROOTS:
        out += [f"## Reference: {root.title} (`{root.file}`)", ""]
        for model, where in found.items():
            if where.root is root:
                out += _model_section(model, where)
    return out


def playbook_reference() -> str:
    """The whole of docs/playbooks.md."""
    body = [
        *walkthrough_section(),
        "",
        *values_section(),
        *templates_section(),
        "",
        *approvals_section(),
        "",
        *secrets_section(),
        "",
        *_reference(),
    ]
    lines = [*intro_section(), *toc(body), *body]
    check_anchors(lines)
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def main() -> None:
    # Bytes, so the output is UTF-8 whatever the locale says.
    sys.stdout.buffer.write(playbook_reference().encode("utf-8"))


if __name__ == "__main__":
    main()
