"""Enrolment: staff connect their messenger chats themselves, and crisisd knows whom it
can reach.

``directory``: the library as the daemon plans with it (directory chat ids plus bindings).
The stored rows are in :mod:`crisisd.store.bindings`.
"""
