"""The HTTP API's wire shapes: pydantic models, body parsing, error codes, and the
OpenAPI 3.1 document built from the same models.

Request models are strict (no "1" for true, no number for a string) and forbid unknown
fields, so a typo is a 422 naming the field rather than a silently ignored value.
Responses are built through the response models too, so the document cannot drift
from what the handlers send.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from crisisd import errors
from crisisd.api.healthdoc import HEALTH
from crisisd.domain import IncidentStatus, MessageStatus
from crisisd.playbook import CONTACT_ID
from crisisd.problems import did_you_mean
from crisisd.redaction import redact
from crisisd.store import IncidentRow, MessageRow

IDEMPOTENCY_KEY_MAX = 200
RESERVED_ACTORS = frozenset({"crisisd", "scheduler"})
M = TypeVar("M", bound=BaseModel)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Actor = Annotated[
    str,
    Field(
        pattern=CONTACT_ID,
        max_length=128,
        description="Directory contact id of the officer acting. "
        "Omitted: the integration itself (api:<name>) is the actor.",
    ),
]


class OpenIncident(_Request):
    """Report an incident (or a drill). Nothing is sent until it is committed."""

    factory: Annotated[str, Field(min_length=1, max_length=64, description="Playbook factory id")]
    type: Annotated[str, Field(min_length=1, max_length=64, description="Incident type, e.g. fire")]
    severity: Annotated[str, Field(min_length=1, max_length=64, description="e.g. major")]
    reporter: Annotated[
        str, Field(min_length=1, max_length=128, description="Contact id of the reporting officer")
    ]
    details: Annotated[str, Field(max_length=1000, description="Free text, shown escaped")] = ""
    location: Annotated[str, Field(max_length=200)] = ""
    casualties: Literal["none", "injured", "fatalities", "unknown", "yes"] = Field(
        "unknown", description="`yes` is read as `injured` (older clients)"
    )
    casualties_count: Annotated[int, Field(ge=1, le=10_000)] | None = None
    drill: bool = False


class _WithActor(_Request):
    actor: Actor | None = None

    @field_validator("actor")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value in RESERVED_ACTORS:
            raise ValueError(f"'{value}' is reserved for the daemon; name an officer or omit it")
        return value


class PostUpdate(_WithActor):
    """An update statement: the approved update template with these details."""

    details: Annotated[str, Field(min_length=1, max_length=1000)]


class Resolve(_WithActor):
    """The all-clear to everyone who was told; pending alerts are cancelled."""


class Takeover(_WithActor):
    """The provincial crisis HQ took over: press gets the referral to its spokesperson."""


# -- responses ------------------------------------------------------------------------------


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class Unreachable(_Response):
    audience: str
    contact: str


class IncidentCreated(_Response):
    id: str
    created: bool = Field(description="false: the Idempotency-Key matched an earlier incident")
    messages: int = Field(description="messages planned (0 for a repeated request)")
    unreachable: list[Unreachable] = Field(description="members with no usable channel")


class ActionDone(_Response):
    id: str
    messages: int = Field(description="messages planned by this action")
    cancelled: int | None = Field(None, description="pending messages withdrawn (takeover)")


class AudienceCounts(_Response):
    messages: int
    pending: int = Field(description="not yet sent (waiting, due, or being sent)")
    sent: int
    failed: int
    cancelled: int
    recipients: int
    ack_required: int = Field(description="recipients asked to acknowledge")
    acked: int = Field(description="recipients who acknowledged")


class MessageSummary(_Response):
    id: int
    purpose: str
    audience: str
    recipient: str = Field(description="directory contact id")
    channel: str = Field(description="the channel it went out on, or the one it will try next")
    status: MessageStatus
    attempts: int
    not_before: datetime
    sent_at: datetime | None
    ack_required: bool
    ack_deadline: datetime | None
    acked_at: datetime | None
    drill: bool


class IncidentView(_Response):
    id: str
    factory: str
    type: str
    severity: str
    status: IncidentStatus
    drill: bool
    reporter: str
    source: str
    details: str
    location: str
    casualties: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    update_number: int
    next_update_at: datetime | None
    audiences: dict[str, AudienceCounts]
    messages: list[MessageSummary]


def incident_view(row: IncidentRow, messages: list[MessageRow]) -> IncidentView:
    """An incident as the API shows it: counts per audience and one line per message."""
    tally: dict[str, dict[str, int]] = {}
    people: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for m in messages:
        t = tally.setdefault(m.audience, dict.fromkeys(_COUNTED, 0))
        everyone, asked, acked = people.setdefault(m.audience, (set(), set(), set()))
        t["messages"] += 1
        t["pending" if m.status in ("pending", "sending") else m.status] += 1
        everyone.add(m.recipient)
        if m.ack_required:
            asked.add(m.recipient)
        if m.acked_at is not None:
            acked.add(m.recipient)
    audiences = {
        aud: AudienceCounts(**t, recipients=len(p[0]), ack_required=len(p[1]), acked=len(p[2]))
        for aud, t, p in ((a, tally[a], people[a]) for a in tally)
    }
    # Only the declared fields are taken from the rows: message text and keys stay behind.
    return IncidentView.model_validate(
        {
            **asdict(row),
            "type": row.incident_type,
            "audiences": audiences,
            "messages": [
                MessageSummary.model_validate({**asdict(m), "channel": m.sent_channel or m.channel})
                for m in messages
            ],
        }
    )


_COUNTED = ("messages", "pending", "sent", "failed", "cancelled")


class FieldProblem(_Response):
    path: str = Field(description="dotted path into the body, e.g. details")
    message: str


class ErrorDetail(_Response):
    code: str = Field(description="stable, machine-readable, e.g. unknown_factory")
    message: str = Field(description="what was wrong and what to do, for people")
    problems: list[FieldProblem] | None = None


class ErrorBody(_Response):
    error: ErrorDetail


# -- parsing a body into a request --------------------------------------------------------------


@dataclass(eq=False)
class Reject(Exception):
    """Stop handling a request and answer with this JSON error."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    problems: list[FieldProblem] | None = None

    def __str__(self) -> str:
        return self.message


def parse_body(raw: bytes, model: type[M]) -> M:
    """``raw`` (UTF-8 JSON; empty is ``{}``) as ``model``, or a Reject naming each problem."""
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except UnicodeDecodeError as exc:
        raise Reject(400, "malformed_json", f"the body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise Reject(
            400, "malformed_json", f"the body is not valid JSON: {exc.msg} at {where}"
        ) from None
    except RecursionError:  # nested deeper than the parser goes: no field needs that
        raise Reject(400, "malformed_json", "the body is nested too deep") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = field_problems(exc, model)
        listed = "; ".join(f"{p.path}: {p.message}" for p in problems)
        message = f"{len(problems)} problem(s) in the body: {listed}"
        raise Reject(422, "invalid_body", message, problems=problems) from None


def field_problems(exc: ValidationError, model: type[BaseModel]) -> list[FieldProblem]:
    """Each pydantic error as a path and a message, never echoing the value that was sent."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = err["loc"]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        message = err["msg"]
        if err["type"] == "extra_forbidden" and len(loc) == 1:
            message = f"unknown field — {did_you_mean(str(loc[0]), model.model_fields)}"
        elif err["type"] == "model_type":
            message = "the body must be a JSON object"
        out.append(FieldProblem(path=path or "(body)", message=redact(message)))
    return out


_ERROR_STATUS: tuple[tuple[type[errors.CrisisError], int, str], ...] = (
    (errors.UnknownFactoryError, 404, "unknown_factory"),
    (errors.UnknownIncidentError, 404, "unknown_incident"),
    (errors.NotFoundError, 404, "not_found"),
    (errors.PermissionDeniedError, 403, "forbidden"),
    (errors.InvalidReportError, 422, "invalid_report"),
    (errors.StoreError, 503, "store_unavailable"),
)


def error_status(exc: errors.CrisisError) -> tuple[int, str]:
    """The HTTP status and error code that answer one of crisisd's own errors."""
    for kind, status, code in _ERROR_STATUS:
        if isinstance(exc, kind):
            return status, code
    return 500, "crisisd_error"


# -- the OpenAPI document ---------------------------------------------------------------------

_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (OpenIncident, "validation"),
    (PostUpdate, "validation"),
    (Resolve, "validation"),
    (Takeover, "validation"),
    (IncidentCreated, "serialization"),
    (ActionDone, "serialization"),
    (IncidentView, "serialization"),
    (ErrorBody, "serialization"),
]
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _typed(media: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


_ERRORS = {
    400: "Malformed JSON or header",
    401: "Missing or wrong bearer token",
    403: "The actor, reporter or token scope (factories, role) does not allow it (audited)",
    404: "Unknown factory or incident",
    413: "Body larger than api.max_body_bytes",
    415: "Content-Type is not application/json",
    422: "Body does not validate (each field listed), the playbook refuses it, or the "
    "Idempotency-Key was used before with a different report (idempotency_key_reused)",
}
_POST_ERRORS = (400, 401, 403, 404, 413, 415, 422)
_INCIDENT_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_TEXT = {"type": "string"}
_HEALTH_ANSWERS = {200: "Healthy", 503: "Unhealthy"}
_BEARER = {"type": "http", "scheme": "bearer", "description": "scoped by factories and role"}


def _op(
    summary: str,
    responses: dict[int, dict[str, Any]],
    *,
    body: type[BaseModel] | None = None,
    params: tuple[dict[str, Any], ...] = (),
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    """One operation; ``errors`` are answered with ErrorBody and imply a bearer token."""
    op: dict[str, Any] = {"summary": summary, "parameters": list(params)}
    if errors:
        op["security"] = [{"bearer": []}]
    if body is not None:
        content = {"application/json": {"schema": _ref(body)}}
        op["requestBody"] = {"required": body is OpenIncident, "content": content}
    answers = responses | {s: _json(ErrorBody, _ERRORS[s]) for s in errors}
    op["responses"] = {str(s): answers[s] for s in sorted(answers)}
    return op


def _action(model: type[BaseModel], summary: str) -> dict[str, Any]:
    done = {200: _json(ActionDone, "Committed")}
    return {"post": _op(summary, done, body=model, params=(_INCIDENT_ID,), errors=_POST_ERRORS)}


def openapi_document(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route the API serves."""
    _, defs = models_json_schema(_MODELS, ref_template=_REF)
    idempotency = {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "Repeat a request safely: the same key (per integration) with the "
        "same body returns the first incident instead of opening another; with a different "
        "body it answers 422 idempotency_key_reused.",
        "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
    }
    token = {"name": "token", "in": "path", "required": True, "schema": _TEXT}
    opened = {
        201: _json(IncidentCreated, "Opened and committed"),
        200: _json(IncidentCreated, "Idempotency-Key matched; nothing new"),
    }
    acked = {
        200: _typed("text/html", "Acknowledged (or already acknowledged)", _TEXT),
        400: _typed("text/html", "Altered or incomplete link", _TEXT),
        404: _typed("text/html", "The message is not known", _TEXT),
        410: _typed("text/html", "Expired link", _TEXT),
    }
    health = {s: _typed("application/json", w, HEALTH) for s, w in _HEALTH_ANSWERS.items()}
    paths = {
        "/v1/incidents": {
            "post": _op(
                "Report an incident",
                opened,
                body=OpenIncident,
                params=(idempotency,),
                errors=_POST_ERRORS,
            )
        },
        "/v1/incidents/{id}": {
            "get": _op(
                "An incident with delivery and acknowledgement counts",
                {200: _json(IncidentView, "The incident")},
                params=(_INCIDENT_ID,),
                errors=(401, 403, 404),
            )
        },
        "/v1/incidents/{id}/updates": _action(PostUpdate, "Send an update statement"),
        "/v1/incidents/{id}/resolve": _action(Resolve, "Send the all-clear and close"),
        "/v1/incidents/{id}/takeover": _action(Takeover, "Provincial crisis HQ took over"),
        "/v1/ack/{token}": {
            "get": _op("The confirm page of an ack link (records nothing)", acked, params=(token,)),
            "post": _op("Acknowledge (the confirm page's button)", acked, params=(token,)),
        },
        "/healthz": {"get": _op("Health of the store, channels, workers and outbox", health)},
        "/metrics": {"get": _op("Prometheus metrics", {200: _typed("text/plain", "0.0.4", _TEXT)})},
        "/openapi.json": {"get": _op("This document", {200: {"description": "OpenAPI 3.1"}})},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crisisd",
            "version": version,
            "description": "Report incidents to crisisd, follow their delivery and "
            "acknowledgements, send updates and the all-clear.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": _BEARER},
        },
    }
