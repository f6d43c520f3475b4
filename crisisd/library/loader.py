"""The loaded, checked set of everything the daemon works from.

A :class:`Library` is config + directory + playbooks + templates + approvals, all
validated together. It is built once at start and again on reload; a reload that
finds any problem keeps the previous library.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crisisd.approvals import load_approvals
from crisisd.config import Config
from crisisd.errors import ProblemsError
from crisisd.formats.workweek import WorkCalendar, parse_holiday
from crisisd.library.advice import ARABIC_LETTERS, reads_as_typed
from crisisd.library.checks import check_library
from crisisd.library.model import Library
from crisisd.parsing.modelcheck import check_model
from crisisd.parsing.yamlsource import Document, load_yaml
from crisisd.playbook import Contact, Directory, Playbook
from crisisd.problems import Problem, display_path
from crisisd.templates import TemplateSet

DIRECTORY_FILE = "directory.yaml"


def load_library(config: Config) -> Library:
    """Load and check everything; raise ProblemsError with every problem in every file."""
    problems: list[Problem] = []
    root = config.resolve_path(config.playbooks)
    directory = load_directory(root, problems)
    playbooks = load_playbooks(root, problems)
    templates = TemplateSet(config.resolve_path(config.templates))
    library = assemble(config, directory, playbooks, templates, problems)
    return conclude(library, problems, check_library(library))


DirectoryPart = tuple[Directory | None, Document | None]
PlaybooksPart = tuple[dict[str, Playbook], dict[str, Document]]


def assemble(
    config: Config,
    directory: DirectoryPart,
    playbooks: PlaybooksPart,
    templates: TemplateSet,
    problems: list[Problem],
) -> Library:
    """The library made of the parts read, not yet checked across files (``problems``: what
    reading them found; raises ProblemsError when there is no directory to check against)."""
    problems.extend(templates.problems)
    approvals = load_approvals(templates.root, problems)
    calendar = _calendar(config, problems)
    if directory[0] is None:
        raise ProblemsError(problems)
    return Library(
        config, directory[0], playbooks[0], templates, approvals, calendar, playbooks[1],
        directory[1],
    )  # fmt: skip


def conclude(library: Library, problems: list[Problem], found: list[Problem]) -> Library:
    """The checked library, with ``found`` (its cross-checks); ProblemsError on any error."""
    problems.extend(found)
    for doc in (library.directory_doc, *library.documents.values()):
        if doc is not None:
            doc.release()  # located already: what the documents hold can go
    if any(p.is_error for p in problems):
        raise ProblemsError(sorted(problems, key=lambda p: not p.is_error))
    return replace(library, warnings=tuple(problems))


def _calendar(config: Config, problems: list[Problem]) -> WorkCalendar:
    holidays = set()
    for i, raw in enumerate(config.calendar.holidays):
        try:
            holidays.add(parse_holiday(raw))
        except ValueError as exc:
            shown = display_path(config.source) if config.source else "config.yaml"
            problems.append(Problem(shown, 1, 1, f"calendar.holidays[{i}]", str(exc)))
    return WorkCalendar(
        config.calendar.thursday_working,
        frozenset(holidays),
        iran_public=config.calendar.public_holidays,
    )


def load_directory(root: Path, problems: list[Problem]) -> DirectoryPart:
    path = root / DIRECTORY_FILE
    if not path.exists():
        problems.append(
            Problem(
                display_path(path),
                1,
                1,
                "",
                "contacts directory not found",
                f"create {DIRECTORY_FILE} with a 'contacts:' mapping",
            )
        )
        return None, None
    take = _early_contact if _has_arabic_letters(path) else _contact
    doc = load_yaml(path, problems, entries=("contacts", take))
    if doc is None:
        return None, None
    # Contacts are checked one by one, so one bad entry does not hide the playbooks' problems.
    raw = doc.data.get("contacts") if isinstance(doc.data, dict) else None
    if not isinstance(raw, dict):
        directory, found = check_model(Directory, doc)
        problems.extend(found)
        return directory, doc
    good: dict[str, Contact] = {}
    for cid, value in raw.items():
        if isinstance(value, Contact):
            good[cid] = value
            continue
        contact, found = check_model(Contact, doc, value, ("contacts", cid))
        problems.extend(found)
        if contact is not None:
            good[cid] = slim(contact)
    rest = {k: v for k, v in doc.data.items() if k != "contacts"}
    _, found = check_model(Directory, doc, {**rest, "contacts": {}})
    problems.extend(found)
    try:
        return Directory(contacts=good), doc
    except ValueError as exc:  # a contact id that breaks the id rule
        problems.append(doc.problem(("contacts",), str(exc).splitlines()[0]))
        return None, doc


def _has_arabic_letters(path: Path) -> bool:
    """The warnings read an entry as typed only for Arabic letters: in a file without any,
    no entry needs a look for them (one search of the bytes, not one walk per contact)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False  # load_yaml says why it cannot be read
    return any(ch.encode() in data for ch in ARABIC_LETTERS)


def _early_contact(cid: str, entry: Any) -> Any:
    """A contact made into its model as soon as the parser has read it, so a province's
    raw entries never pile up beside their models. One that fails stays as typed and is
    checked again below, where its problems get their places; so does one the warnings
    read as typed."""
    if reads_as_typed(entry):
        return entry
    return _contact(cid, entry)


def _contact(_cid: str, entry: Any) -> Any:
    try:
        return slim(Contact.model_validate(entry))
    except ValidationError:
        return entry


# pydantic keeps, per model, the set of fields its input gave: 216 bytes each, twice per
# contact (the contact and its name), a third of a contact's memory. Models that gave the
# same fields share one set: pydantic never changes it in place (the models are frozen,
# and a copy gets a set of its own), so a province holds a handful instead of 200,000.
_FIELDS_GIVEN: dict[frozenset[str], set[str]] = {}


def slim(contact: Contact) -> Contact:
    for model in (contact, contact.name, contact.title):
        if model is not None:
            given = model.__pydantic_fields_set__
            shared = _FIELDS_GIVEN.setdefault(frozenset(given), given)
            object.__setattr__(model, "__pydantic_fields_set__", shared)
    return contact


def load_playbooks(root: Path, problems: list[Problem]) -> PlaybooksPart:
    playbooks: dict[str, Playbook] = {}
    documents: dict[str, Document] = {}
    files = sorted(p for p in root.glob("*.y*ml") if p.name != DIRECTORY_FILE)
    if not files:
        problems.append(
            Problem(display_path(root), 1, 1, "", "no playbooks found", "add <factory-id>.yaml")
        )
    for path in files:
        if path.suffix not in (".yaml", ".yml"):
            continue
        doc = load_yaml(path, problems)
        if doc is None:
            continue
        playbook, found = check_model(Playbook, doc)
        problems.extend(found)
        if playbook is None:
            continue
        fid = playbook.factory.id
        if fid != path.stem:
            problems.append(
                doc.problem(
                    ("factory", "id"),
                    f"factory id '{fid}' does not match the file name '{path.name}'",
                    f"rename the file to {fid}.yaml or change the id",
                )
            )
        if fid in playbooks:
            problems.append(doc.problem(("factory", "id"), f"factory '{fid}' is defined twice"))
            continue
        playbooks[fid] = playbook
        documents[fid] = doc
    return playbooks, documents
