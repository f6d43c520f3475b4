"""The library as the daemon plans and delivers with it: directory chat ids plus bindings.

Bindings add to the directory's ``chats`` and win over them, per contact and messenger:

- an active binding's chat id is the contact's chat on that messenger;
- without one, the directory's chat id stands, unless a stale or retired binding names
  that same chat (the person blocked the bot, or said /stop there): then the contact has
  no chat on that messenger until they start the bot again.

The merge is pure (:func:`with_bindings`): planning (``Sources.usable``,
``Contact.reachable_on``), the dispatcher's addresses and the bot's "who is this" all read
the merged directory, so none of them needed to change. :class:`BoundLibrary` caches the
merge and rebuilds it when the base library is reloaded or the bindings change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from crisisd.library.model import Library
from crisisd.playbook import Contact, Directory
from crisisd.store import MessageRow, Store
from crisisd.store.bindings import ACTIVE, Binding, BindingBook


def merged_chats(contact: Contact, mine: Iterable[Binding]) -> dict[str, int]:
    """``contact``'s chats once their bindings (``mine``) are applied (module docstring)."""
    chats = dict(contact.chats)
    blocked: set[tuple[str, int]] = set()
    active: dict[str, Binding] = {}
    for b in mine:
        if b.state == ACTIVE:
            active[b.messenger] = b
        else:
            blocked.add((b.messenger, b.chat_id))
    for messenger, chat in list(chats.items()):
        if (messenger, chat) in blocked:
            del chats[messenger]
    for messenger, b in active.items():
        chats[messenger] = b.chat_id
    return chats


def with_bindings(lib: Library, rows: Iterable[Binding]) -> Library:
    """``lib`` whose directory carries the bindings (contacts not in it are ignored)."""
    by_contact: dict[str, list[Binding]] = {}
    for b in rows:
        if b.contact in lib.directory.contacts:
            by_contact.setdefault(b.contact, []).append(b)
    if not by_contact:
        return lib
    contacts = dict(lib.directory.contacts)
    for cid, mine in by_contact.items():
        chats = merged_chats(contacts[cid], mine)
        if chats != contacts[cid].chats:
            contacts[cid] = contacts[cid].model_copy(update={"chats": chats})
    directory = Directory.model_construct(contacts=contacts)
    return replace(lib, directory=directory)


class BoundLibrary:
    """A ``Callable[[], Library]`` over a base one (the daemon's last good set): the same
    library with the bindings applied, rebuilt only when either changes.

    The daemon passes it wherever it passed its library getter, and
    :meth:`address_of` to the dispatcher.
    """

    def __init__(self, book: BindingBook, base: Callable[[], Library]) -> None:
        self.book = book
        self._base = base
        self._key: tuple[Library, int] | None = None  # what the cached merge was made from
        self._made: Library | None = None

    @classmethod
    async def start(cls, store: Store, base: Callable[[], Library]) -> BoundLibrary:
        """The bound library of ``store`` with its bindings read."""
        book = BindingBook.of(store)
        await book.load()
        return cls(book, base)

    def __call__(self) -> Library:
        base, version = self._base(), self.book.version
        key = self._key
        if self._made is None or key is None or key[0] is not base or key[1] != version:
            self._made = with_bindings(base, self.book.rows)
            self._key = (base, version)
        return self._made

    def address_of(self, msg: MessageRow, channel: str) -> str | None:
        """The dispatcher's address lookup: a binding's chat wins over the directory's."""
        contact = self().directory.contacts.get(msg.recipient)
        return None if contact is None else contact.address_for(channel)

    async def refresh(self) -> bool:
        """Read the bindings again (another daemon may have written); True if they changed."""
        return await self.book.load()
