"""Who the training chat page lets a person play: the directory's people, per messenger."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from crisisd.playbook import Directory, Playbook

ROLE_OFFICER, ROLE_CONTACT, ROLE_OTHER = "officer", "contact", "other"


@dataclass(frozen=True, slots=True)
class TrainerUser:
    """Someone the page lets a person play: one chat on one messenger."""

    messenger: str
    chat_id: int
    name_fa: str
    name_en: str
    contact_id: str = ""
    title_fa: str = ""
    title_en: str = ""
    officer_of: tuple[str, ...] = ()  # factory ids whose PR officer this is
    listed: bool = True  # False: a chat the fake knows that is not in the directory

    @property
    def role(self) -> str:
        if not self.listed:
            return ROLE_OTHER
        return ROLE_OFFICER if self.officer_of else ROLE_CONTACT

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"role": self.role, "officer_of": list(self.officer_of)}


def trainer_users(
    directory: Directory, playbooks: Mapping[str, Playbook] | None = None
) -> list[TrainerUser]:
    """Everyone in the directory with a chat id, once per messenger; officers first.

    ``playbooks`` tells who is a PR officer (``factory.officers``); without them everyone
    is listed as a contact.
    """
    officer_of: dict[str, list[str]] = {}
    for factory_id, playbook in (playbooks or {}).items():
        for officer in playbook.factory.officers:
            officer_of.setdefault(officer, []).append(factory_id)
    users = [
        TrainerUser(
            messenger,
            chat_id,
            contact.name.fa,
            contact.name.en,
            contact_id,
            contact.title.fa if contact.title else "",
            contact.title.en if contact.title else "",
            tuple(officer_of.get(contact_id, ())),
        )
        for contact_id, contact in directory.contacts.items()
        for messenger, chat_id in contact.chats.items()
    ]
    users.sort(key=lambda u: (u.role != ROLE_OFFICER, u.messenger, u.contact_id))
    return users


UsersSource = Sequence[TrainerUser] | Callable[[], Iterable[TrainerUser]]
