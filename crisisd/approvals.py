"""Template approvals: what the PR directorate signed off, pinned by sha256.

``templates/approvals.yaml`` maps a template's path (``fa/holding_statement.email.j2``)
to its sha256, approver and date. A template sent to an external audience (press,
authorities) must be approved, and an edit after approval makes it unapproved again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

from crisisd.parsing.modelcheck import check_model
from crisisd.parsing.yamlsource import load_yaml
from crisisd.problems import Problem
from crisisd.templates import TemplateRef

FILE_NAME = "approvals.yaml"


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    approved_by: Annotated[str, Field(min_length=1)]
    approved_on: dt.date


class ApprovalFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approvals: dict[str, Approval] = Field(default_factory=dict)


class Status(StrEnum):
    APPROVED = "approved"
    UNAPPROVED = "not approved"
    EDITED = "edited since approval"


@dataclass(frozen=True, slots=True)
class Approvals:
    entries: dict[str, Approval]

    def status(self, ref: TemplateRef) -> Status:
        entry = self.entries.get(ref.rel)
        if entry is None:
            return Status.UNAPPROVED
        if entry.sha256 != ref.sha256:
            return Status.EDITED
        return Status.APPROVED

    def describe(self, ref: TemplateRef) -> str:
        entry = self.entries.get(ref.rel)
        state = self.status(ref)
        if entry is None or state is not Status.APPROVED:
            return str(state)
        return f"approved by {entry.approved_by} on {entry.approved_on.isoformat()}"


def load_approvals(root: Path, problems: list[Problem]) -> Approvals:
    """Read ``<templates>/approvals.yaml``; a missing file means nothing is approved."""
    path = root / FILE_NAME
    if not path.exists():
        return Approvals({})
    doc = load_yaml(path, problems)
    if doc is None:
        return Approvals({})
    model, found = check_model(ApprovalFile, doc)
    problems.extend(found)
    return Approvals(dict(model.approvals) if model else {})


def approve(root: Path, ref: TemplateRef, by: str, on: dt.date) -> Approval:
    """Record an approval of the template's current bytes, keeping the others."""
    path = root / FILE_NAME
    existing: dict[str, dict[str, object]] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        existing = dict(loaded.get("approvals") or {})
    approval = Approval(sha256=ref.sha256, approved_by=by, approved_on=on)
    existing[ref.rel] = approval.model_dump(mode="json")
    header = (
        "# Approved templates: path -> sha256 of the exact file, approver, date.\n"
        "# Written by `crisisd approve TEMPLATE --by NAME`; an edited template needs a new one.\n"
    )
    body = yaml.safe_dump(
        {"approvals": dict(sorted(existing.items()))}, allow_unicode=True, sort_keys=False
    )
    path.write_text(header + body, encoding="utf-8")
    return approval
