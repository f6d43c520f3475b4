"""Who the training chat page lets a person play: the directory's people, per messenger.

Besides everyone with a chat id, a *newcomer* per messenger for each contact who has a
phone but no chat id there: a made-up user id (:func:`newcomer_id`) who has not started
the bot yet, so the page (and the demo) can play someone connecting themselves.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from crisisd.playbook import Directory, Playbook

ROLE_OFFICER, ROLE_CONTACT, ROLE_NEWCOMER, ROLE_OTHER = "officer", "contact", "newcomer", "other"
NEWCOMER_IDS = 900_000_000  # newcomers' made-up user ids start here (no real directory uses them)


def newcomer_id(contact_id: str) -> int:
    """The sandbox user id of a contact who has no chat id (the same on every messenger)."""
    return NEWCOMER_IDS + zlib.crc32(contact_id.encode()) % 90_000_000


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
    phone: str = ""  # what "share my number" sends (E.164 digits, as an app shares them)
    newcomer: bool = False  # in the directory, but no chat id on this messenger

    @property
    def role(self) -> str:
        if not self.listed:
            return ROLE_OTHER
        if self.newcomer:
            return ROLE_NEWCOMER
        return ROLE_OFFICER if self.officer_of else ROLE_CONTACT

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"role": self.role, "officer_of": list(self.officer_of)}


def trainer_users(
    directory: Directory,
    playbooks: Mapping[str, Playbook] | None = None,
    messengers: Sequence[str] = (),
) -> list[TrainerUser]:
    """Everyone in the directory with a chat id, once per messenger; officers first; then,
    on each of ``messengers``, a newcomer for everyone with a phone and no chat id there.

    ``playbooks`` tells who is a PR officer (``factory.officers``); without them everyone
    is listed as a contact.
    """
    officer_of: dict[str, list[str]] = {}
    for factory_id, playbook in (playbooks or {}).items():
        for officer in playbook.factory.officers:
            officer_of.setdefault(officer, []).append(factory_id)
    users = []
    for contact_id, contact in directory.contacts.items():
        title = (contact.title.fa, contact.title.en) if contact.title else ("", "")
        common = (contact.name.fa, contact.name.en, contact_id, *title)
        factories = tuple(officer_of.get(contact_id, ()))
        phone = (contact.phone or "").removeprefix("+")
        for messenger, chat_id in contact.chats.items():
            users.append(TrainerUser(messenger, chat_id, *common, factories, phone=phone))
        for messenger in messengers:
            if phone and messenger not in contact.chats:
                uid = newcomer_id(contact_id)
                users.append(
                    TrainerUser(messenger, uid, *common, factories, phone=phone, newcomer=True)
                )
    order = (ROLE_OFFICER, ROLE_CONTACT, ROLE_NEWCOMER)
    users.sort(key=lambda u: (order.index(u.role), u.messenger, u.contact_id))
    return users


UsersSource = Sequence[TrainerUser] | Callable[[], Iterable[TrainerUser]]
