"""Markdown for docs/playbooks.md: table cells, prose, tables, headings' anchors and links."""

from __future__ import annotations

import re


def table_cell(text: str) -> str:
    """Text made safe for a table cell: pipes escaped (code spans too, as GFM wants)."""
    return text.replace("|", "\\|").replace("\n", " ")


def prose(text: str) -> str:
    """``<`` outside code spans escaped, so ``<factory-id>`` is not taken for an HTML tag."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def table(head: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(table_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def plain(heading: str) -> str:
    return heading.replace("`", "")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = plain(heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def toc(lines: list[str]) -> list[str]:
    out = ["Contents:", ""]
    for line in lines:
        if line.startswith("## "):
            out.append(f"- [{line[3:]}](#{slug(line[3:])})")
    return [*out, ""]


def check_anchors(lines: list[str]) -> None:
    slugs = [slug(line.lstrip("#")) for line in lines if re.match(r"#{1,6} ", line)]
    twice = sorted({s for s in slugs if slugs.count(s) > 1})
    if twice:
        raise RuntimeError(f"headings with the same anchor: {', '.join(twice)}")
    for target in re.findall(r"\]\(#([^)]+)\)", "\n".join(lines)):
        if target not in slugs:
            raise RuntimeError(f"link to #{target}, which no heading has")
