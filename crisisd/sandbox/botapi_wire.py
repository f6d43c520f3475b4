"""The Bot API's wire format as the fake checks it: errors, parameters, keyboards.

Parameters arrive as a query string, JSON or a form; in a form, structured values
(``reply_markup``, ``allowed_updates``, …) are JSON strings. Texts are checked by the
messenger's dialect (:mod:`crisisd.sandbox.botapi_dialect`).
"""

from __future__ import annotations

import json
from typing import Any

JSON = dict[str, Any]
MAX_TEXT = 4096  # UTF-16 units after entity parsing
MAX_CALLBACK_DATA = 64  # bytes


class BotApiError(Exception):
    """A Bot API failure as the real server reports it: HTTP status = ``error_code``."""

    def __init__(self, code: int, description: str, *, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {what}")


def json_param(params: JSON, key: str, what: str | None = None) -> Any:
    """A structured parameter: an object in a JSON body, a JSON string in a form."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what or key} JSON object") from None
    return value


def int_param(params: JSON, key: str, default: int = 0) -> int:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {key} specified") from None


def flag_param(params: JSON, key: str) -> bool:
    value = params.get(key)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def check_markup(params: JSON) -> JSON | None:
    """The reply_markup parameter, checked the way Telegram checks inline keyboards."""
    markup = json_param(params, "reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise bad_request("text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is None and "url" not in button:
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    return markup


def not_modified() -> BotApiError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message"
    )
