"""API tokens and their scope: which factories a token sees and what it may do there.

Only a token's sha256 is configured. A token without ``factories`` sees every factory;
its ``role`` says what it may do (``viewer``: read; ``officer``: report, update, resolve,
invite, close tasks; ``province``: also take over and drill). The default (no factories,
``province``) is what every token could do before scopes existed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field

from crisisd.config.base import NAME_ID, Model

Role = Literal["province", "officer", "viewer"]
# What each role may do; reading is allowed to every role.
ACTIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "officer": frozenset({"read", "open", "update", "resolve", "invite", "task"}),
    "province": frozenset(
        {"read", "open", "update", "resolve", "invite", "task", "takeover", "drill"}
    ),
}


class ApiToken(Model):
    """An integration allowed to call the HTTP API; only the token's sha256 is stored."""

    name: Annotated[str, Field(pattern=NAME_ID, max_length=48)] = Field(
        description="The integration's name, recorded as the actor in the audit trail."
    )
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="sha256 of the bearer token in lower-case hex "
        '(`printf %s "$TOKEN" | sha256sum`).'
    )
    factories: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None,
        description="Factory ids this token sees and acts on; another factory's incidents "
        "answer 403 (audited). Unset: every factory.",
    )
    role: Role = Field(
        "province",
        description="What the token may do: `viewer` reads; `officer` reports, updates, "
        "resolves, invites and closes tasks; `province` may also take over and drill.",
    )

    def sees(self, factory: str) -> bool:
        return self.factories is None or factory in self.factories

    def may(self, action: str) -> bool:
        return action in ACTIONS[self.role]


def match_token(tokens: Iterable[ApiToken], presented: str) -> ApiToken | None:
    """The configured token whose sha256 is the presented token's; every one is compared."""
    digest = hashlib.sha256(presented.encode("utf-8")).digest()
    found = None
    for configured in tokens:
        if hmac.compare_digest(digest, bytes.fromhex(configured.sha256)):
            found = configured
    return found
