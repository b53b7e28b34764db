"""Human views of the JSON data: sections of tables and notes, rendered as text tables or
Markdown — with the standard library only, so every format starts as fast as JSON.

Each command's JSON output is the source of truth; these functions only arrange it, so the
table, Markdown and JSON faces cannot disagree.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any, TextIO

STATUS_STYLE = {"required": "bold red", "upcoming": "yellow", "voluntary": "cyan",
                "not-applicable": "dim", "undetermined": "magenta"}


class Section:
    """A titled table (columns and rows) and/or notes. A plain class, not a dataclass: the
    ``dataclasses`` module (with ``inspect``) is ~10 % of a JSON answer's start-up."""

    __slots__ = ("columns", "notes", "rows", "title")

    def __init__(self, title: str, columns: Sequence[str] = (),
                 rows: Sequence[Sequence[Any]] = (), notes: list[str] | None = None) -> None:
        self.title = title
        self.columns = columns
        self.rows = rows
        self.notes = notes if notes is not None else []


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else ""


def regulations_view(regs: list[dict[str, Any]]) -> list[Section]:
    rows = []
    for r in regs:
        routes = _join(dict.fromkeys(c["route"] for c in r["conformity"]))
        counts = r["requirement_counts"]
        rows.append([r["id"], r["short_name"], r["jurisdiction"], r["kind"], r["binding"],
                     routes, str(r["rigor"]), _join(r["scope"]["tags"]),
                     f"{counts['prevention']}/{counts['readiness']}/{counts['handling']}"])
    return [Section("Product-security instruments", ["id", "name", "jurisdiction", "kind",
                                                     "binding", "conformity", "rigor", "scope",
                                                     "prev/ready/handl"], rows,
                    ["rigor: 0 pledge … 5 European certification"])]


def regulation_view(r: dict[str, Any]) -> list[Section]:
    head = Section(f"{r['short_name']} — {r['title']}", notes=[
        f"Legal reference: {r['legal_reference']}",
        f"Jurisdiction: {r['jurisdiction']} (markets: {_join(r['markets'])})",
        f"Kind: {r['kind']}; binding: {r['binding']}"
        + (f" — {r['binding_note']}" if r.get("binding_note") else ""),
        f"Rigor: {r['rigor']} — {r['rigor_note']}",
        f"Strategy: {r['strategy']}" + (f" — {r['strategy_note']}" if r.get("strategy_note") else ""),
        f"Scope: {_join(r['scope']['tags'])} — {r['scope']['text']}",
        f"Authority: {r['authority']['text']}",
        f"Verified: {'yes' if r['verified'] else 'no'}"
        + (f" — {r['verified_note']}" if r.get("verified_note") else ""),
    ])
    dates = Section("Key dates", ["date", "kind", "what"],
                    [[d["date"], d["kind"], d["text"]] for d in r["dates"]])
    conformity = Section("Conformity", ["route", "applies to", "how"],
                         [[c["route"], c["applies_to"], c["text"]] for c in r["conformity"]])
    standards = Section("Standards", ["standard", "relation", "note"],
                        [[s["standard"], s["relation"], s.get("restriction") or s.get("text") or ""]
                         for s in r["standards"]])
    goals = Section("Goals", notes=[g["text"] for g in r["goals"]])
    sections = [head, dates, conformity, goals, standards]
    for category, reqs in r["requirements"].items():
        sections.append(Section(f"Requirements — {category}", ["id", "title", "citation"],
                                [[q["id"], q["title"], q["citation"]] for q in reqs]))
    return sections


def requirements_view(reqs: list[dict[str, Any]]) -> list[Section]:
    return [Section(f"Requirements ({len(reqs)})", ["id", "category", "title", "citation"],
                    [[q["id"], q["category"], q["title"], q["citation"]] for q in reqs])]


def mappings_view(data: dict[str, Any]) -> list[Section]:
    req = data["requirement"]
    rows = [[m["requirement"], m["relation"], m["confidence"], str(m["hops"]),
             _join(m["via"]), m["title"]] for m in data["related"]]
    return [Section(f"{req['id']} — {req['title']}", notes=[req["text"], f"Source: {req['citation']}"]),
            Section("Equal or overlapping across regimes (comply once)",
                    ["requirement", "relation", "confidence", "hops", "via", "title"], rows)]


def standards_view(stds: list[dict[str, Any]]) -> list[Section]:
    rows = [[s["id"], s["short_name"], s["version"], s["status"], str(s["provisions"]),
             _join(f"{u['regulation']} ({u['relation']})" for u in s["referenced_by"]),
             _join(f"{o['act']}: {o['status']}" for o in s.get("oj_listings") or [])]
            for s in stds]
    return [Section("Standards", ["id", "name", "version", "status", "provisions",
                                  "referenced by", "OJ listing"], rows)]


def check_view(check: Mapping[str, Any]) -> list[Section]:
    rows = []
    for r in check["results"]:
        rows.append([r["regulation"], r["status"], r["category"] or "", r["assessment"] or "",
                     r["applies_from"] or "", _first_reason(r)])
    law = f" (law as of {check['law_as_of']})" if check.get("law_as_of") else ""
    sections = [Section(f"{check['product']} — as of {check['as_of']}{law}",
                        ["instrument", "status", "category", "assessment", "applies from",
                         "why"], rows)]
    for r in check["results"]:
        if r["status"] == "not-applicable":
            continue
        notes = [f"{'✓' if x['holds'] else '✗' if x['holds'] is False else '?'} {x['text']}"
                 + (f" [{x['citation']}]" if x["citation"] else "") for x in r["reasons"]
                 if x.get("decisive", True)]
        also = [x["text"] for x in r["reasons"] if not x.get("decisive", True)]
        if also:
            notes.append("Also checked (not what decides): " + "; ".join(also))
        if r["missing_facts"]:
            notes.append("Missing facts: " + _join(r["missing_facts"]))
        for o in r["obligations"]:
            state = "in force" if o["in_force"] else "from"
            kind = {"voluntary": "Label condition (to do for the label, never missed)",
                    "on-event": "Obligation triggered by an event"}.get(o.get("nature", ""),
                                                                        "Obligation")
            notes.append(f"{kind} {o['title']}: {state} {o['applies_from']} [{o['citation']}]")
        counts = {k: len(v) for k, v in r["requirements"].items()}
        if counts:
            notes.append("Requirements: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        sections.append(Section(f"{r['regulation']}: {r['status']}", notes=notes))
    if check["comply_once"]:
        sections.append(Section(
            "Comply once: doing one requirement also satisfies (confidence, through clause)",
            ["requirement", "also satisfies"],
            [[link["requirement"], "\n".join(
                f"{s['requirement']} ({s['confidence']}"
                + (f", through {s['via']})" if s["via"] else ")") for s in link["satisfies"])]
             for g in check["comply_once"] for link in g["links"]]))
    return sections


def _first_reason(result: dict[str, Any]) -> str:
    """The deciding reason in a few words: the failed condition, the class, or the scope."""
    if result["missing_facts"]:
        return "missing: " + _join(result["missing_facts"])
    reasons = [r for r in result["reasons"] if r.get("decisive", True)]
    failed = [r for r in reasons if r["holds"] is False]
    pick = failed[-1] if failed else reasons[-1] if result["category"] else reasons[0]
    text = pick["text"] if len(pick["text"]) <= 90 else pick["text"][:87] + "…"
    prefix = "not: " if pick["holds"] is False else ""
    return f"{prefix}{text}"


def portfolio_view(matrix: dict[str, Any]) -> list[Section]:
    instruments = matrix["instruments"]
    rows = [[p["product"], *(p["statuses"][i] for i in instruments)] for p in matrix["products"]]
    return [Section("Portfolio: products × instruments", ["product", *instruments], rows)]


# ---- renderers -------------------------------------------------------------------------------


def render_markdown(sections: list[Section]) -> str:
    out: list[str] = []
    for s in sections:
        out.append(f"## {s.title}\n")
        out += [f"- {n}" for n in s.notes]
        if s.notes:
            out.append("")
        if s.columns:
            out.append("| " + " | ".join(s.columns) + " |")
            out.append("|" + "---|" * len(s.columns))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def dump(data: Any) -> str:
    """The JSON face: the data itself, exactly as ``json.dumps(data, indent=2,
    ensure_ascii=False)`` writes it, but faster in a fresh process (3-9 ms instead of 10-12
    for ``regulations``): with ``indent`` the standard library leaves its C encoder for a
    generator chain. Here the strings still go through C; a test compares the two on random
    data."""
    from json.encoder import encode_basestring

    out: list[str] = []
    _dump(data, out, "\n", encode_basestring)
    return "".join(out)


def _dump(value: Any, out: list[str], newline: str, quote: Callable[[str], str]) -> None:
    if isinstance(value, str):
        out.append(quote(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner, sep = newline + "  ", "{"
        for key, item in value.items():
            out.append(f"{sep}{inner}{quote(_key(key))}: ")
            _dump(item, out, inner, quote)
            sep = ","
        out.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner, sep = newline + "  ", "["
        for item in value:
            out.append(sep + inner)
            _dump(item, out, inner, quote)
            sep = ","
        out.append(newline + "]")
    else:
        out.append(_scalar(value))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """Keys as ``json`` writes them: strings as they are, scalars in their JSON spelling."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return _scalar(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def emit(data: Any, fmt: str, view: Callable[[Any], list[Section]]) -> None:
    """JSON is the data itself; table and Markdown are views of the same data."""
    if fmt == "json":
        print(dump(data))
    elif fmt == "markdown":
        print(render_markdown(view(data)), end="")
    else:
        render_table(view(data))


_ANSI = {"bold": "1", "dim": "2", "red": "31", "yellow": "33", "cyan": "36", "magenta": "35"}


def render_table(sections: list[Section], out: TextIO | None = None) -> None:
    """Box tables folded to the terminal's width, in the standard library only.

    This was Rich; importing Rich's console made a table answer ~4x slower than its JSON
    (issue #15). Colour only on a terminal, and never with ``NO_COLOR`` set.
    """
    import os
    import shutil
    import textwrap

    out = out or sys.stdout
    colour = out.isatty() and not os.environ.get("NO_COLOR")
    width = max(shutil.get_terminal_size().columns, 20)
    lines: list[str] = []
    for s in sections:
        title = textwrap.wrap(s.title, width - 4) or [""]
        if s.columns:
            lines += title
            lines += _box(s.columns, s.rows, width, colour)
        else:
            lines += title[:-1]
            lines.append(f"{title[-1]} " + "─" * max(width - len(title[-1]) - 1, 0))
        lines += [part for note in s.notes for part in textwrap.wrap(note, width) or [""]]
        lines.append("")
    out.write("\n".join(lines) + "\n")


def _box(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int,
         colour: bool) -> list[str]:
    cells = [[str(c) for c in row] for row in rows]
    widths = _widths(columns, cells, width - 3 * len(columns) - 1)
    head = _lines(list(columns), widths, colour, header=True)
    lines = ["┏" + "┳".join("━" * (w + 2) for w in widths) + "┓"]
    lines += ["┃ " + " ┃ ".join(line) + " ┃" for line in head]
    lines.append("┡" + "╇".join("━" * (w + 2) for w in widths) + "┩")
    for row in cells:
        lines += ["│ " + " │ ".join(line) + " │" for line in _lines(row, widths, colour)]
    lines.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    return lines


def _widths(columns: Sequence[str], rows: list[list[str]], room: int) -> list[int]:
    """Each column as wide as its longest line when the table fits. Otherwise each column first
    gets its longest word (at most 14 characters or a fair share), and the room left goes to
    the columns in proportion to what they still lack, so long texts get the width and short
    words stay whole."""
    cols = [[head, *col] for head, *col in zip(columns, *rows, strict=False)]
    natural = [max(len(line) for c in col for line in c.splitlines() or [""]) for col in cols]
    if sum(natural) <= room:
        return natural
    cap = max(min(room // len(cols), 14), 4)
    words = [max((len(w) for c in col for w in c.split()), default=1) for col in cols]
    widths = [min(n, max(min(w, cap), 4)) for n, w in zip(natural, words, strict=True)]
    lack = [n - w for n, w in zip(natural, widths, strict=True)]
    left, total = room - sum(widths), sum(lack)
    if left > 0 and total:
        widths = [w + lk * left // total for w, lk in zip(widths, lack, strict=True)]
    return widths


def _lines(row: list[str], widths: list[int], colour: bool, header: bool = False) -> list[list[str]]:
    """The row's physical lines: each cell folded to its column, padded, styled."""
    import textwrap

    folded = [[part for line in cell.splitlines() or [""]
               for part in textwrap.wrap(line, w) or [""]]
              for cell, w in zip(row, widths, strict=True)]
    height = max(len(f) for f in folded)
    styles = ["bold" if header else STATUS_STYLE.get(cell, "") for cell in row]
    return [[_paint(f[n].ljust(w) if n < len(f) else " " * w, style if colour else "")
             for f, w, style in zip(folded, widths, styles, strict=True)]
            for n in range(height)]


def _paint(text: str, style: str) -> str:
    codes = ";".join(_ANSI[word] for word in style.split() if word in _ANSI)
    return f"\x1b[{codes}m{text}\x1b[0m" if codes else text


#: The old name, for command modules written before the renderer left Rich.
render_rich = render_table


def changes_view(data: dict[str, Any]) -> list[Section]:
    rows = [[c["date"], c["act"], c["summary"], _join(c["instruments"]),
             _join([*c["facts"], *c["functions"]]), c["encoded"]] for c in data["changes"]]
    since = f" since {data['since']}" if data.get("since") else ""
    if data.get("recorded_since"):
        since += f" recorded since {data['recorded_since']}"
    return [Section(f"Knowledge changes{since} — law as of {data['law_as_of']}",
                    ["date", "act", "what changed", "instruments", "facts / functions", "encoded"],
                    rows, [f"{c['id']}: {c['citation']}" for c in data["changes"]])]


def product_gaps_view(data: dict[str, Any]) -> list[Section]:
    rows = [[i["regulation"], i["status"], i["category"] or "", f"{i['percent_met']}%",
             f"{i['done']}/{i['total']}", "yes" if i["stale"] else ""]
            for i in data["instruments"]]
    sections = [Section(f"Gaps of {data['product']} — as of {data['as_of']}",
                        ["instrument", "status", "category", "met", "done", "stale"], rows)]
    for inst in data["instruments"]:
        if inst.get("changes"):
            sections.append(Section(
                f"{inst['regulation']}: stale — verdict was {inst['status_was']}, is now "
                f"{inst.get('status_now') or 'unknown'}; knowledge changes since the assessment",
                ["date", "act", "what changed"],
                [[c["date"], c["act"], c["summary"]] for c in inst["changes"]]))
        if inst["missing"]:
            sections.append(Section(
                f"{inst['regulation']}: {len(inst['missing'])} open ({_open_counts(inst)})",
                ["requirement", "category", "status", "applies from", "due", "due from", "title"],
                [[m["requirement"], m["category"], m["status"], m.get("applies_from") or "",
                  DUE.get(m.get("due", ""), m.get("due", "")), m.get("due_from") or "",
                  m["title"]] for m in inst["missing"]],
                [inst["does_not_reach"]] if inst.get("does_not_reach") else []))
    if data["expiring_evidence"]:
        sections.append(Section("Evidence expiring", ["evidence", "expires", "expired"],
                                [[e["title"], e["expires_on"], "yes" if e["expired"] else ""]
                                 for e in data["expiring_evidence"]]))
    return sections


#: An open requirement's ``due`` as the gaps tables show it (workspace/gaps.py decides it).
DUE = {"overdue": "overdue", "upcoming": "upcoming", "standing": "in force, no event yet",
       "for-label": "to do for the label",
       "unplaced": "in force, no release placed on the market yet",
       "not-reached": "does not reach the releases"}


def _open_counts(inst: dict[str, Any]) -> str:
    """"2 overdue, 3 upcoming, 4 in force, no event yet, 5 to do for the label"."""
    words = (("overdue", "overdue"), ("upcoming", "upcoming"),
             ("unplaced", DUE["unplaced"]), ("not_reached", DUE["not-reached"]),
             ("standing", DUE["standing"]), ("for_label", DUE["for-label"]))
    parts = [f"{inst.get(key, 0)} {word}" for key, word in words
             if inst.get(key, 0) or key in ("overdue", "upcoming")]
    return ", ".join(parts)


def portfolio_gaps_view(data: dict[str, Any]) -> list[Section]:
    rows = [[p["product"], ", ".join(f"{i['regulation']} {i['percent_met']}%" for i in p["instruments"]),
             str(p["expiring_evidence"])] for p in data["products"]]
    controls = [[c["control"], str(c["closes"]), str(c["product_requirements"]), _join(c["regimes"])]
                for c in data["controls"]]
    missed = [[m["product"], m["regulation"], m["applies_from"] or "", str(m["open"])]
              for m in data["missed_dates"]]
    upcoming = [[m["product"], m["regulation"], m["applies_from"] or "", str(m["open"])]
                for m in data.get("upcoming_dates", [])]
    law = f"; law as of {data['law_as_of']}" if data.get("law_as_of") else ""
    return [Section(f"Portfolio gaps — as of {data['as_of']}{law}",
                    ["product", "met per instrument", "expiring evidence"], rows),
            Section("Controls that close the most open requirements (comply once)",
                    ["control", "requirements", "product × requirement", "regimes"], controls),
            Section("Products that missed a date (open requirements of releases already "
                    "placed on the market)",
                    ["product", "instrument", "applies since", "open"], missed),
            Section("Upcoming dates (open requirements that do not apply yet)",
                    ["product", "instrument", "applies from", "open"], upcoming)]


def comparison_view(data: dict[str, Any]) -> list[Section]:
    """One table per aspect: rows are facts, columns are products; sources in the notes."""
    from prodsec.documents.comparison import display

    names = [p["name"] for p in data["products"]]
    sections = []
    for aspect in data["aspects"]:
        rows = [[row["label"], *(display(c) for c in row["cells"])] for row in aspect["rows"]]
        sources = sorted({c["source"] for row in aspect["rows"] for c in row["cells"]})
        sections.append(Section(f"{aspect['title']} — as of {data['as_of']}", ["", *names], rows,
                                [f"Sources: {'; '.join(sources)}."]))
    return sections


def profile_changes_view(data: dict[str, Any]) -> list[Section]:
    """``product edit``: the answers the edit changes, then each instrument whose verdict
    changes, one row per change."""
    rows: list[list[str]] = []
    for change in data["changes"]:
        for f in change["fields"]:
            rows.append([change["regulation"], f["field"], str(f["from"] or "—"), str(f["to"] or "—")])
        for key in ("obligations", "requirements"):
            for item in change[key]["added"]:
                rows.append([change["regulation"], key, "—", f"{item['id']} ({item['label']})"])
            for item in change[key]["removed"]:
                rows.append([change["regulation"], key, f"{item['id']} ({item['label']})", "—"])
    saved = data.get("saved_version")
    notes = [("profile unchanged" if not data["profile_changed"] else
              "no verdict changes" if not rows else f"{len(data['changes'])} instrument(s) change"),
             f"saved: version {saved}, re-assessed" if saved else "not saved (--dry-run)"]
    answers = [[a["label"], a["from"], a["to"]] for a in data.get("answers", [])]
    return [Section("Answers changed", ["answer", "from", "to"], answers, []),
            Section("Verdict changes", ["instrument", "what", "from", "to"], rows, notes)]


def deletion_view(data: dict[str, Any]) -> list[Section]:
    """``product delete``: what goes, what stays, and whether it was deleted."""
    name = data["product"]["name"]
    rows = [[k.replace("_", " "), str(v), "deleted"] for k, v in data["removed"].items()]
    rows += [[k.replace("_", " "), str(v), "kept"] for k, v in data["kept"].items()]
    notes = [f"refused: {data['blocked']}" if data["blocked"] else
             f"{name} deleted" if data["deleted"] else f"{name}: nothing deleted yet"]
    return [Section(f"Deleting {name}", ["what", "count", ""], rows, notes)]
