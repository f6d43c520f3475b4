"""The mini tree with a crowd on Bale: a backlog of lower-priority staff notices that an
alert has to overtake (dispatch priority, the WAL's checkpoints)."""

from __future__ import annotations

from pathlib import Path

from crisisd.config import Config
from tests.minitree import make_tree

STAFF = 60


def tree_with_staff(root: Path, staff: int = STAFF) -> Config:
    """The mini tree plus ``staff`` people on Bale, told of a minor fire (lower priority)."""
    config = make_tree(root)
    d = root / "playbooks" / "directory.yaml"
    people = "".join(
        f"  s{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    chats: {{bale: {5000 + i}}}\n"
        for i in range(staff)
    )
    d.write_text(d.read_text(encoding="utf-8") + people, encoding="utf-8")
    pb = root / "playbooks" / "mini.yaml"
    members = ", ".join(f"s{i}" for i in range(staff))
    minor = "      minor:\n        steps:\n          - {audience: staff, template: alert, channels: [bale]}\n"
    text = pb.read_text(encoding="utf-8")
    text = text.replace(
        "  management:\n", f"  staff:\n    members: [{members}]\n  management:\n", 1
    )
    pb.write_text(text.replace("      major:\n", minor + "      major:\n", 1), encoding="utf-8")
    return config
