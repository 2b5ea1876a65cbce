"""A small document model (sections of paragraphs, notes, tables, figures) and its two renderers.

The same :class:`Section` list becomes ``report.html`` (self-contained: figures as base64 PNG
``data:`` URIs, CSS inline, no external ``src``/``href``) and ``report.md`` (figures linked to
``figures/``), so both carry identical tables.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field


@dataclass
class Paragraph:
    """Plain text."""

    text: str


@dataclass
class Note:
    """A remark; ``level`` is ``info``, ``warning`` or ``error`` (errors are shown in red)."""

    text: str
    level: str = "info"


@dataclass
class Table:
    """A table of pre-formatted strings."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class FigureBlock:
    """A figure: the PNG bytes to embed and the relative paths of its files in ``figures/``."""

    title: str
    png: bytes
    png_path: str
    svg_path: str
    caption: str = ""


@dataclass
class Preformatted:
    """Verbatim text (the configuration)."""

    text: str


@dataclass
class Section:
    """A titled part of the report."""

    title: str
    anchor: str
    blocks: list = field(default_factory=list)


CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; max-width: 1100px;
       margin: 0 auto; padding: 1em 2em; line-height: 1.4; font-size: 15px; }
h1 { font-size: 1.7em; border-bottom: 2px solid #1f4e79; padding-bottom: .2em; }
h2 { font-size: 1.3em; color: #1f4e79; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
nav ul { columns: 3; list-style: none; padding-left: 0; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .9em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #e8eef5; }
tr:nth-child(even) td { background: #f7f9fb; }
td.num { font-family: "DejaVu Sans Mono", monospace; white-space: nowrap; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; }
pre { background: #f4f4f4; padding: .8em; overflow-x: auto; font-size: .85em;
      white-space: pre-wrap; word-break: break-word; }
.note { padding: .5em .8em; border-left: 4px solid #888; background: #f6f6f6; margin: .6em 0; }
.note.warning { border-color: #d68910; background: #fef5e7; }
.note.error { border-color: #c0392b; background: #fdecea; color: #922b21; font-weight: bold; }
.banner { font-size: 1.1em; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure, table, .note { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 24cm; }
  pre { white-space: pre-wrap; }
}
"""


def _looks_numeric(text: str) -> bool:
    head = text.lstrip("([")[:1]
    return head.isdigit() or head in "-+." and text[1:2].isdigit()


def _html_block(block) -> str:
    esc = html.escape
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Note):
        return f'<div class="note {esc(block.level)}">{esc(block.text)}</div>'
    if isinstance(block, Preformatted):
        return f"<pre>{esc(block.text)}</pre>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
        body = []
        for row in block.rows:
            cells = "".join(
                f'<td class="num">{esc(c)}</td>' if _looks_numeric(c) else f"<td>{esc(c)}</td>"
                for c in row
            )
            body.append(f"<tr>{cells}</tr>")
        caption = f"<caption>{esc(block.caption)}</caption>" if block.caption else ""
        return (
            f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    if isinstance(block, FigureBlock):
        data = base64.b64encode(block.png).decode("ascii")
        caption = esc(block.caption or block.title)
        return (
            f'<figure><img alt="{esc(block.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption} (files: {esc(block.png_path)}, {esc(block.svg_path)})"
            "</figcaption></figure>"
        )
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(title: str, banners: list[Note], sections: list[Section]) -> str:
    """Return the whole self-contained HTML document."""
    esc = html.escape
    nav = "".join(f'<li><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for note in banners:
        parts.append(_html_block(note).replace('class="note', 'class="banner note', 1))
    parts.append(f"<nav><ul>{nav}</ul></nav>")
    for section in sections:
        parts.append(f'<section id="{esc(section.anchor)}"><h2>{esc(section.title)}</h2>')
        parts.extend(_html_block(b) for b in section.blocks)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_block(block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Note):
        label = {"error": "**ERROR:** ", "warning": "**Warning:** "}.get(block.level, "")
        return f"> {label}{block.text}"
    if isinstance(block, Preformatted):
        return f"```\n{block.text}\n```"
    if isinstance(block, Table):
        lines = []
        if block.caption:
            lines.append(f"**{block.caption}**\n")
        lines.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
        lines.append("|" + "---|" * len(block.header))
        lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows)
        return "\n".join(lines)
    if isinstance(block, FigureBlock):
        caption = f"\n\n*{block.caption}*" if block.caption else ""
        return f"![{block.title}]({block.png_path})  \n[SVG]({block.svg_path}){caption}"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(title: str, banners: list[Note], sections: list[Section]) -> str:
    """Return the Markdown report (same tables as the HTML; figures linked, not embedded)."""
    parts = [f"# {title}"]
    parts.extend(_md_block(n) for n in banners)
    for section in sections:
        parts.append(f"## {section.title}")
        parts.extend(_md_block(b) for b in section.blocks)
    return "\n\n".join(parts) + "\n"
