"""Sections to HTML (self-contained) and Markdown."""

from __future__ import annotations

import html
from typing import Any

from .cells import Section

CSS = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#111;line-height:1.45}h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;
padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f2f2f2}td:first-child,
th:first-child{text-align:left}figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{font-size:.9em;
color:#444}code{background:#f5f5f5;padding:0 .2em}.meta{color:#555;font-size:.9em}
h3{font-size:1.05em;margin:1em 0 .3em}"""

CHECK_SCRIPT = ("window.addEventListener('load',function(){var i=Array.prototype.slice.call(document.images);"
                "document.body.setAttribute('data-figures-loaded',i.filter(function(x){return x.complete&&"
                "x.naturalWidth>0;}).length);});")


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_paragraphs(paragraphs: list[str]) -> list[str]:
    """Paragraphs as HTML: "**Title.**" alone becomes a sub-heading, runs of "- item" a list."""
    out, items = [], []
    for p in [*paragraphs, ""]:
        if p.startswith("- "):
            items.append(f"<li>{_inline(p[2:])}</li>")
            continue
        if items:
            out += ["<ul>", *items, "</ul>"]
            items = []
        if not p:
            continue
        if p.startswith("**") and p.endswith("**") and p.count("**") == 2:
            out.append(f"<h3>{_inline(p[2:-2])}</h3>")
        else:
            out.append(f"<p>{_inline(p)}</p>")
    return out


def to_html(sections: list[Section], images: dict[str, str], record: dict[str, Any], rendered: str) -> str:
    fit = record["fit"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>scalefit report: {html.escape(fit['formula'])}</title>", f"<style>{CSS}</style>",
           f"<script>{CHECK_SCRIPT}</script></head><body>",
           f"<h1>Scaling-law fit: L(N, D) = {html.escape(fit['formula'])}</h1>",
           f"<p class=\"meta\">scalefit {html.escape(str(record.get('scalefit_version')))}; fitted "
           f"{html.escape(str(record.get('created')))}</p>", f'<p class="meta">{html.escape(rendered)}</p>',
           *sections_html(sections, images), "</body></html>"]
    return "\n".join(out) + "\n"


def sections_html(sections: list[Section], images: dict[str, str]) -> list[str]:
    """HTML lines of the sections: heading, paragraphs, tables and figures (``images``: name -> base64 PNG of
    figures/name.png, which has an SVG twin)."""
    out = []
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        out += _html_paragraphs(s.paragraphs)
        for header, rows in s.tables:
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</tbody></table>")
        for name, caption in s.figures:
            out.append(f'<figure id="fig-{name}"><img alt="{html.escape(caption)}" '
                       f'src="data:image/png;base64,{images[name]}"><figcaption>{html.escape(caption)} '
                       f'(figures/{name}.png, figures/{name}.svg)</figcaption></figure>')
    return out


def to_markdown(sections: list[Section], record: dict[str, Any], rendered: str) -> str:
    fit = record["fit"]
    out = [f"# Scaling-law fit: L(N, D) = {fit['formula']}", "",
           f"scalefit {record.get('scalefit_version')}; fitted {record.get('created')}", "", f"_{rendered}_", "",
           *sections_markdown(sections)]
    return "\n".join(out)


def sections_markdown(sections: list[Section]) -> list[str]:
    """Markdown lines of the sections: heading, paragraphs, tables and figures (figures/name.png)."""
    out = []
    for s in sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        for header, rows in s.tables:
            out.append("| " + " | ".join(h.replace("|", "\\|") for h in header) + " |")
            out.append("|" + "|".join(["---"] * len(header)) + "|")
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
            out.append("")
        for name, caption in s.figures:
            out += [f"![{caption}](figures/{name}.png)", "", f"_{caption}_", ""]
    return out
