"""The ``crisisd`` command: the group lives in :mod:`crisisd.cli.app`; importing the
command modules here registers run, trigger, drill, status, report, db, chat, demo,
contacts and invite on it."""

from crisisd.cli import chat, contacts, ops
from crisisd.cli.app import main

__all__ = ["chat", "contacts", "main", "ops"]
