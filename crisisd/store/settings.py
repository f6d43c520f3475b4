"""Persistent settings (a key/value table): generated secrets, once-only claims, bot state."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crisisd.store.driver_errors import store_operation
from crisisd.store.engine import Transactions
from crisisd.store.tables import settings

KEY_LIMIT = 64  # settings.key column


def setting_key(key: str) -> str:
    """Keys longer than the column keep a readable head and a hash of the whole."""
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"{key[: KEY_LIMIT - 25]}~{digest}"


class SettingsMixin(Transactions):
    """The settings operations of :class:`crisisd.store.Store`."""

    @store_operation("read or create a setting")
    async def setting(self, key: str, make: Any = None) -> str:
        """A persistent setting; created with ``make()`` (or a random secret) the first time."""
        key = setting_key(key)
        async with self.write() as conn:
            value = await conn.scalar(sa.select(settings.c.value).where(settings.c.key == key))
            if value is not None:
                return str(value)
            value = make() if make else secrets.token_urlsafe(32)
            await conn.execute(sa.insert(settings).values(key=key, value=value))
            return str(value)

    @store_operation("claim a once-only key")
    async def claim_once(self, key: str, value: str = "") -> bool:
        """True the first time ``key`` is claimed, by any process sharing this store."""
        key = setting_key(key)
        try:
            async with self.write() as conn:
                await conn.execute(sa.insert(settings).values(key=key, value=value))
        except IntegrityError:
            return False
        return True

    @store_operation("write a setting")
    async def put_setting(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``, whether it was set before or not."""
        key = setting_key(key)
        try:
            await self._put_setting(key, value)
        except IntegrityError:  # another writer inserted it meanwhile: now there is a row
            await self._put_setting(key, value)

    async def _put_setting(self, key: str, value: str) -> None:
        async with self.write() as conn:
            changed = await conn.execute(
                sa.update(settings).where(settings.c.key == key).values(value=value)
            )
            if changed.rowcount == 0:
                await conn.execute(sa.insert(settings).values(key=key, value=value))

    @store_operation("read settings")
    async def settings_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every setting whose key starts with ``prefix`` (case-sensitive), by key."""
        query = sa.select(settings.c.key, settings.c.value).where(
            settings.c.key.startswith(prefix, autoescape=True)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        # SQLite's LIKE ignores ASCII case: the exact test is made here.
        return {str(k): str(v) for k, v in rows if str(k).startswith(prefix)}

    @store_operation("delete a setting")
    async def delete_setting(self, key: str) -> bool:
        """Forget ``key``; False when it was not set."""
        key = setting_key(key)
        async with self.write() as conn:
            result = await conn.execute(sa.delete(settings).where(settings.c.key == key))
        return bool(result.rowcount)
