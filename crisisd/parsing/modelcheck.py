"""Turn pydantic validation errors into located problems an operator can act on."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from crisisd.parsing.yamlsource import Document, Loc
from crisisd.problems import Problem, did_you_mean

M = TypeVar("M", bound=BaseModel)

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "float_type": "a number",
}


def check_model(
    model: type[M], doc: Document, data: Any = None, prefix: Loc = ()
) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` (default: the whole document) and locate every error in the file.

    ``prefix`` is where ``data`` sits in the document when it is only a part of it.
    """
    try:
        return model.model_validate(doc.data if data is None else data), []
    except ValidationError as exc:
        return None, [_problem(model, doc, err, prefix) for err in exc.errors(include_url=False)]


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names allowed at ``loc`` (for "did you mean"), following nested models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            continue  # a dict key (free) above a model that _unwrap already found
        current = _unwrap(fields[part].annotation)
    return list(getattr(current, "model_fields", {}))


def _unwrap(annotation: Any) -> Any:
    """The model inside Optional[...], list[...] or dict[..., ...], if any."""
    for arg in (*getattr(annotation, "__args__", ()), annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        inner = getattr(arg, "__args__", ())
        for sub in inner:
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                return sub
    return annotation


def _problem(model: type[BaseModel], doc: Document, err: Any, prefix: Loc = ()) -> Problem:
    inner: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(model, inner[:-1])
        key = str(inner[-1])
        return doc.problem((*prefix, *inner), f"unknown key '{key}'", did_you_mean(key, allowed))
    loc: Loc = (*prefix, *inner)
    kind = err["type"]
    if kind == "missing":
        return doc.problem(loc[:-1], f"'{loc[-1]}' is required", f"add '{loc[-1]}:' here")
    if kind in _TYPE_WORDS:
        got = type(err.get("input")).__name__
        return doc.problem(
            loc,
            f"expected {_TYPE_WORDS[kind]}, got {_yaml_type(got)}",
            "quote it to make it text" if kind == "string_type" else "",
        )
    if kind == "string_pattern_mismatch":
        return doc.problem(
            loc,
            f"'{err.get('input')}' is not a valid id",
            "use lowercase letters, digits, '_' or '-', starting with a letter",
        )
    if kind in ("too_short", "list_too_short"):
        return doc.problem(loc, "must not be empty", "add at least one entry")
    if kind == "literal_error":
        return doc.problem(loc, f"'{err.get('input')}' is not allowed", err["msg"].lower())
    message = str(err["msg"]).removeprefix("Value error, ")
    if " — " in message:
        what, hint = message.split(" — ", 1)
        return doc.problem(loc, what, hint)
    return doc.problem(loc, message)


def _yaml_type(name: str) -> str:
    return {
        "str": "text",
        "int": "a number",
        "float": "a number",
        "bool": "true/false",
        "list": "a list",
        "dict": "a mapping",
        "NoneType": "nothing (empty value)",
        "date": "a date",
        "datetime": "a date and time",
    }.get(name, name)
