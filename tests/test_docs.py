"""docs/playbooks.md is generated from the models and code; it must stay in step with them."""

from __future__ import annotations

import difflib
import inspect
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel

from crisisd import config as config_module
from crisisd import playbook as playbook_module
from crisisd.approvals import ApprovalFile
from crisisd.config import Config, load_config
from crisisd.domain import Casualties, IncidentFacts
from crisisd.errors import ProblemsError
from crisisd.formats.crontab import parse_cron
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.render import MessageExtras, template_context
from tools.docsgen import reference as docsgen
from tools.docsgen import sample as docs_sample
from tools.docsgen import templates as docs_templates

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "playbooks.md"
FIX = "run python -m tools.docsgen > docs/playbooks.md"
TEHRAN = ZoneInfo("Asia/Tehran")
OPENED = datetime(2026, 11, 28, 10, 30, tzinfo=TEHRAN)


def test_committed_reference_is_current() -> None:
    if not DOC.exists():
        pytest.fail(f"docs/playbooks.md is missing: {FIX}")
    committed = DOC.read_text(encoding="utf-8")
    generated = docsgen.playbook_reference()
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm=""
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(f"docs/playbooks.md is out of date: {FIX}\n{shown}")


def test_main_prints_the_reference_in_utf8_whatever_the_locale() -> None:
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("PYTHONIOENCODING", None)
    env.pop("PYTHONUTF8", None)
    out = subprocess.run(
        [sys.executable, "-m", "tools.docsgen"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    assert out.stdout.decode("utf-8") == docsgen.playbook_reference()


def _own_models(module: object) -> set[type[BaseModel]]:
    return {
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseModel)
        and cls.__module__ == getattr(module, "__name__", None)
        and cls.__name__ != "Model"  # the shared base: strict, frozen, no unknown keys
    }


def test_every_model_of_playbook_and_config_is_in_the_reference() -> None:
    documented = set(docsgen.documented_models())
    missing = (_own_models(playbook_module) | _own_models(config_module)) - documented
    assert not missing, (
        f"models not reachable from Playbook, Directory or Config: "
        f"{sorted(m.__name__ for m in missing)} — add them to docsgen.ROOTS"
    )


def test_every_model_field_has_a_description() -> None:
    missing = [
        f"{model.__module__}.{model.__name__}.{name}"
        for model in docsgen.documented_models()
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert not missing, (
        "fields without a description (add Field(..., description=...)): " + ", ".join(missing)
    )


def test_every_model_has_its_own_docstring() -> None:
    bare = [m.__name__ for m in docsgen.documented_models() if not m.__dict__.get("__doc__")]
    assert not bare, f"models without a docstring: {', '.join(bare)}"


@pytest.fixture
def sample_library(tmp_path: Path) -> Library:
    """The walk-through's directory and playbook, with the real templates and approvals."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "directory.yaml").write_text(docs_sample.SAMPLE_DIRECTORY, encoding="utf-8")
    factory = yaml.safe_load(docs_sample.SAMPLE_PLAYBOOK)["factory"]["id"]
    (folder / f"{factory}.yaml").write_text(docs_sample.SAMPLE_PLAYBOOK, encoding="utf-8")
    config = tmp_path / "config.yaml"
    settings = {
        "playbooks": str(folder),
        "templates": str(ROOT / "templates"),
        "store_url": f"sqlite:///{tmp_path / 'store.sqlite3'}",
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    try:
        return load_library(load_config(config))
    except ProblemsError as exc:
        pytest.fail("the documented sample does not validate:\n" + str(exc))


def _keys(value: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, item in value.items():
        if isinstance(item, dict):
            out |= _keys(item, f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out


def test_walkthrough_sample_validates(sample_library: Library) -> None:
    assert list(sample_library.playbooks) == ["eslamshahr-glass"]


def test_documented_template_variables_are_what_templates_get(sample_library: Library) -> None:
    lib = sample_library
    pb = lib.playbook("eslamshahr-glass")
    facts = IncidentFacts(
        id="KMT-479",
        factory="eslamshahr-glass",
        incident_type="fire",
        severity="major",
        reporter=pb.factory.officers[0],
        opened_at=OPENED,
        details="دود در سالن ۲",
        casualties=Casualties.UNKNOWN,
    )
    audience = "emergency_team"
    contact = lib.directory.contacts[pb.audiences[audience].members[0]]
    extra = MessageExtras(
        ack_required=True, ack_url="https://x.example/v1/ack/T", next_update=OPENED
    )
    produced = _keys(template_context(lib, pb, facts, contact, audience, extra))
    documented = docs_templates.template_variable_names()
    assert produced == documented, (
        f"template variables not documented: {sorted(produced - documented)}; "
        f"documented but not given to templates: {sorted(documented - produced)} — "
        f"update docs_templates.TEMPLATE_VARIABLES, then {FIX}"
    )


def test_documented_filters_are_the_template_environment_s() -> None:
    assert set(docs_templates.FILTERS) == docs_templates.custom_filters()


def test_secrets_sample_is_a_valid_config() -> None:
    config = Config.model_validate(yaml.safe_load(docs_sample.SAMPLE_SECRETS))
    assert config.smtp.sender.address == "crisisd@example.com"  # written as `from:`
    assert config.messenger_names() == ["bale", "telegram"]


def test_approvals_sample_matches_the_approvals_model() -> None:
    approvals = ApprovalFile.model_validate(yaml.safe_load(docs_sample.SAMPLE_APPROVALS))
    assert list(approvals.approvals) == ["fa/holding_statement.email.j2"]


@pytest.mark.parametrize(("weekday", "name"), [("0", "Sunday"), ("7", "Sunday"), ("6", "Saturday")])
def test_numeric_weekdays_follow_cron_as_documented(weekday: str, name: str) -> None:
    fired = parse_cron(f"0 10 * * {weekday}", TEHRAN).get_next_fire_time(None, OPENED)
    assert fired.strftime("%A") == name
