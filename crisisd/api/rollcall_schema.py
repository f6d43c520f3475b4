"""The roll-call routes in the OpenAPI document (crisisd/api/rollcall.py serves them)."""

from __future__ import annotations

from typing import Any

from crisisd.api.rollcall import InboundSms

JSON = "application/json"
HTML = "text/html"


def with_rollcall_routes(doc: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the roll-call routes added."""
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    obj = {"type": "object"}
    page = {"content": {HTML: {"schema": {"type": "string"}}}}

    def answer(what: str) -> dict[str, Any]:
        return {"description": what, "content": {JSON: {"schema": obj}}}

    doc["components"]["schemas"]["InboundSms"] = InboundSms.model_json_schema(by_alias=True)
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
    iid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    form = {
        "type": "object",
        "properties": {
            "answer": {"enum": ["safe", "help"]},
            "location": {"type": "string", "maxLength": 200},
        },
    }
    doc["paths"].update(
        {
            "/v1/rc/{token}": {
                "get": {
                    "summary": "The page a roll-call link opens: both answers, nothing recorded",
                    "parameters": [token],
                    "responses": {
                        "200": {"description": "The question", **page},
                        "400": {"description": "Altered or cut link", **page},
                        "410": {"description": "Expired link", **page},
                    },
                },
                "post": {
                    "summary": "Answer a roll call from its link (the latest answer wins)",
                    "parameters": [token],
                    "requestBody": {
                        "content": {"application/x-www-form-urlencoded": {"schema": form}}
                    },
                    "responses": {"200": {"description": "Recorded", **page}},
                },
            },
            "/v1/incidents/{id}/headcount": {
                "get": {
                    "summary": "The live headcount: safe, need help, no answer, unreachable",
                    "security": bearer,
                    "parameters": [iid],
                    "responses": {
                        "200": answer("Totals, per audience, and names"),
                        "404": answer("Unknown incident"),
                    },
                }
            },
            "/v1/inbound/sms": {
                "post": {
                    "summary": "An SMS a gateway received (a reply to a roll call)",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": {"$ref": "#/components/schemas/InboundSms"}}},
                    },
                    "responses": {
                        "202": answer("Counted"),
                        "200": answer("Recorded, not counted (outcome says why)"),
                    },
                }
            },
        }
    )
    return doc
