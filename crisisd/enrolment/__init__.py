"""Enrolment: staff connect their messenger chats themselves, and crisisd knows whom it
can reach.

``directory``: the library as the daemon plans with it (directory chat ids plus bindings);
``records``: enrolment records, on which invites and officers' notices travel in the
outbox; ``notices``: their words; ``tokens`` and ``invites``: signed, single-use invite
links; ``watch``: the periodic job that keeps bindings true to what delivery saw;
``reach``: who is reachable where. The stored rows are in :mod:`crisisd.store.bindings`; the bot's
side is :mod:`crisisd.bot.enrol`.
"""
