"""What planning reads: the checked set of config, directory, playbooks, templates,
approvals and calendar. :class:`crisisd.library.loader.Library` is this plus the documents
it was read from; planning depends on this shape only, so the library can test-render
through the planner without an import circle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crisisd.approvals import Approvals
from crisisd.config import Config
from crisisd.errors import UnknownFactoryError
from crisisd.formats.workweek import WorkCalendar
from crisisd.playbook import Contact, Directory, Playbook
from crisisd.problems import did_you_mean
from crisisd.templates import TemplateSet


@dataclass(frozen=True, slots=True)
class Sources:
    config: Config
    directory: Directory
    playbooks: dict[str, Playbook]
    templates: TemplateSet
    approvals: Approvals
    calendar: WorkCalendar

    def usable(self, contact: Contact, channels: Iterable[str]) -> tuple[str, ...]:
        """``channels``, in order, that reach ``contact`` and that config.yaml configures
        (a messenger left out of the config is skipped, as `crisisd validate` warns)."""
        messengers = self.config.messenger_names()
        return tuple(
            c
            for c in dict.fromkeys(channels)
            if contact.reachable_on(c) and (c in ("sms", "email") or c in messengers)
        )

    def playbook(self, factory: str) -> Playbook:
        """The factory's playbook; an unknown id is an error that suggests a near one."""
        try:
            return self.playbooks[factory]
        except KeyError:
            hint = did_you_mean(factory, self.playbooks)
            raise UnknownFactoryError(f"no playbook for factory '{factory}' — {hint}") from None
