"""The one error tree of crisisd.

::

    CrisisError
    ├── ConfigError            daemon config unreadable or invalid
    │   └── SecretError        a ${ENV} or file: secret could not be resolved
    ├── ProblemsError          one or more located problems in playbooks/templates
    ├── TemplateRenderError    a template failed while rendering a real message
    ├── NotFoundError (LookupError)
    │   ├── UnknownFactoryError
    │   └── UnknownIncidentError
    ├── PermissionDeniedError (PermissionError)
    │   ├── AckLinkError (acklinks.py): Malformed…, BadAckSignature…, ExpiredAckLink…
    │   └── InviteError    an invite link that cannot be used: malformed, forged, expired,
    │                      used, revoked, unknown, or for another messenger
    ├── InvalidReportError (ValueError)
    └── StoreError             the store failed; says what it was doing and on which store
        ├── StoreUnavailable (OSError)   connection refused or lost, disk full, read-only,
        │                                database locked: the database cannot do it now
        ├── StoreConflict      a write collided with a stored row (unique or foreign key)
        │   └── IncidentIdTaken    the drawn incident id is in use: draw another
        ├── StoreFault         the database refused a statement: schema or data mismatch
        └── WorkerIdInUse      another live daemon already runs as this worker id

Driver errors (SQLAlchemy, sqlite3, asyncpg, sockets) never leave ``crisisd.store``: they
are mapped to a ``StoreError`` subclass at its boundary (``store/driver_errors.py``).

Every message says what was wrong, where, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisisd.problems import Problem


class CrisisError(Exception):
    """Root of every error crisisd raises on purpose."""


class ConfigError(CrisisError):
    """The daemon config could not be loaded."""


class SecretError(ConfigError):
    """A secret reference (``${ENV}`` or ``file:/path``) could not be resolved."""


class ProblemsError(CrisisError):
    """Carries every located problem found in one run, so none is hidden behind the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(p.format() for p in self.problems)
        super().__init__(f"{self.summary()}:\n{lines}")

    def summary(self) -> str:
        """ "2 errors, 1 warning": what stops the daemon, and what only needs a look."""
        errors = sum(p.is_error for p in self.problems)
        warnings = len(self.problems) - errors
        text = f"{errors} error{'s' if errors != 1 else ''}"
        if warnings:
            text += f", {warnings} warning{'s' if warnings != 1 else ''}"
        return text


class TemplateRenderError(CrisisError):
    """A template failed to render; carries the file and line so it can be located."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


class NotFoundError(CrisisError, LookupError):
    """Something named by the caller does not exist."""


class UnknownFactoryError(NotFoundError):
    """No playbook is loaded for the factory id."""


class UnknownIncidentError(NotFoundError):
    """No incident with that id is in the store."""


class PermissionDeniedError(CrisisError, PermissionError):
    """The caller may not do this (not an officer of the factory, bad token)."""


class InviteError(PermissionDeniedError):
    """An invite link that cannot be used; ``reason`` says why, in one word, for the answer
    the person gets and the audit trail."""

    reason = "invalid"


class MalformedInvite(InviteError):
    reason = "malformed"  # not a token crisisd makes


class ForgedInvite(InviteError):
    reason = "forged"  # the signature does not match


class ExpiredInvite(InviteError):
    reason = "expired"


class UsedInvite(InviteError):
    reason = "used"  # single-use: opened before, from another chat


class RevokedInvite(InviteError):
    reason = "revoked"  # a newer invite replaced it


class UnknownInvite(InviteError):
    reason = "unknown"  # signed, but this store has no such invite


class OtherMessengerInvite(InviteError):
    reason = "other_messenger"  # made for the other messenger's bot


class InvalidReportError(CrisisError, ValueError):
    """An incident report or request is malformed."""


class StoreError(CrisisError):
    """The store failed in a way the caller should hear about."""


class StoreUnavailable(StoreError, OSError):
    """The database cannot do it now: unreachable, connection lost, disk full, read-only,
    locked. An ``OSError`` too, so code that treats I/O failures alike keeps doing so."""


class StoreConflict(StoreError):
    """A write collided with a row already stored (unique or foreign key constraint)."""


class IncidentIdTaken(StoreConflict):
    """The incident id drawn for a new incident is already in use: draw another."""


class StoreFault(StoreError):
    """The database refused a statement (schema or data mismatch): a bug or a missing
    migration, not something waiting would fix."""


class WorkerIdInUse(StoreError):
    """Another live daemon already runs as this worker id on this store."""
