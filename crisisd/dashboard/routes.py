"""The dashboard's routes."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Pages come in a later stage."""
