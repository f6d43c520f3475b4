"""The mini tree with SMS first: alerts go by SMS, then Bale or email (for receipt tests)."""

from __future__ import annotations

from pathlib import Path

from crisisd.config import Config
from tests.minitree import make_tree


def make_sms_tree(root: Path) -> Config:
    """The mini tree under ``root`` with every alert step's channels ``[sms, <chat/email>]``
    and a phone for every contact who gets an alert."""
    config = make_tree(root)
    playbook = config.playbooks / "mini.yaml"
    text = playbook.read_text(encoding="utf-8")
    text = text.replace("channels: [bale, sms]", "channels: [sms, bale]")
    text = text.replace("channels: [bale, email]", "channels: [sms, email]")
    playbook.write_text(text, encoding="utf-8")
    directory = config.playbooks / "directory.yaml"
    people = directory.read_text(encoding="utf-8")
    people = people.replace(
        "    email: boss@example.com\n", '    email: boss@example.com\n    phone: "0912 111 6677"\n'
    )
    directory.write_text(people, encoding="utf-8")
    return config
