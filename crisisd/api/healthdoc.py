"""The OpenAPI schema of /healthz's answer (kept beside schema.py, which is long enough)."""

from __future__ import annotations

from typing import Any

_STATE: dict[str, Any] = {
    "type": "string",
    "description": '"up", "down: <cause>" or "paused: <why>"',
}
HEALTH: dict[str, Any] = {
    "type": "object",
    "description": "Without a token: `ok` and, when not ok, the names of what is down. With "
    "a token: every field, and `down` maps each name to its cause.",
    "properties": {
        "ok": {"type": "boolean"},
        "down": {
            "description": "What is wrong: `store`, `channel.<name>`, `outbox`, a background "
            "part (`dispatcher.send.email.0`, `scheduler.sweep`, …).",
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"type": "string"}},
            ],
        },
        "store": _STATE,
        "channels": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [_STATE, {"type": "object", "additionalProperties": _STATE}]
            },
        },
        "workers": {
            "type": "object",
            "properties": {"alive": {"type": "integer"}, "expected": {"type": "integer"}},
        },
        "oldest_due_seconds": {"type": ["number", "null"]},
        "error": {"type": "string"},
    },
    "required": ["ok"],
}
