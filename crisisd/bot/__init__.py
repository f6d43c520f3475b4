"""The officers' bot on every Telegram-compatible messenger (Telegram, Bale).

A factory PR officer reports an incident in a few taps, sees exactly what will go out,
confirms, follows delivery and acknowledgements, sends updates and the all-clear; staff
acknowledge alerts with the button under them. The daemon calls::

    bots = await start_bots(ctx, [(messenger, base_url, token), ...])
    ...
    await bots.aclose()

Modules: ``app`` (Applications, lifecycle), ``access`` (who is who, refusals, flood
control), ``report`` and ``actions`` (the conversation: report, drill, update, resolve,
takeover, Confirm), ``conversation`` (its states, Cancel, timeout), ``follow`` (/status,
/tasks, /help), ``acks`` (ack buttons), ``progress`` (the progress message), ``previews``
and ``dryrun`` (what would be sent), ``status`` (delivery counts), ``texts`` (fa/en, written
once as Telegram HTML), ``replies`` (how they reach each messenger: its dialect, Bale's
answers), ``webhook`` and ``pacing``.
"""

from crisisd.bot.app import Bots, OfficerBot, start_bots
from crisisd.bot.runtime import BotSettings

__all__ = ["BotSettings", "Bots", "OfficerBot", "start_bots"]
