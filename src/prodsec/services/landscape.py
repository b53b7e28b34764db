"""The two pictures the regimes are explained with, drawn from the knowledge base.

* The **rigor landscape**: x — how conformity is shown (self-declaration → third-party
  assessment → certification), each instrument a bar over the range of its routes; y — how
  binding it is (pledge → voluntary label → mandatory for some products → market-entry barrier).
* The **scope landscape**: which product kinds each instrument covers.

matplotlib is imported here only, on the paths that draw.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prodsec.core.knowledge import KnowledgeBase
from prodsec.errors import InputError

ROUTES = ["none", "self", "self-if-harmonised", "third-party", "certification"]
ROUTE_LABELS = ["no assessment\n(public pledge)", "self-declaration", "self-assessment if\nhEN applied in full",
                "third-party\nassessment", "certification /\ntype approval"]
BANDS = ["pledge", "voluntary label", "voluntary;\nmandatory for some", "market-entry barrier",
         "entity obligations\n(operators)"]
SCOPE_TAGS = ["all-products-with-digital-elements", "software", "enterprise-software",
              "consumer-iot", "radio-equipment", "vehicles", "ot", "entities"]
SCOPE_LABELS = ["all digital\nproducts", "software", "enterprise\nsoftware", "consumer\nIoT",
                "radio\nequipment", "vehicles", "OT /\nindustrial", "entities\n(operators)"]
#: Product kinds an "all products with digital elements" instrument covers as well.
IMPLIED_BY_ALL = {"software", "enterprise-software", "consumer-iot", "radio-equipment", "ot"}
ACCENT, MUTED = "#1f5fbf", "#9aa4b1"


def band(reg: dict[str, Any]) -> int:
    """The y band of an instrument: how binding it is for a product."""
    if not reg["product_level"]:
        return 4
    if reg["kind"] == "pledge":
        return 0
    if reg["binding"] == "mandatory":
        return 3
    if (reg.get("applicability") or {}).get("mandatory_when"):
        return 2
    return 1


def route_span(reg: dict[str, Any]) -> tuple[int, int]:
    xs = [ROUTES.index(c["route"]) for c in reg["conformity"]]
    return min(xs), max(xs)


def rigor_points(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Placement of each instrument: x span, band, and a y offset so labels never collide."""
    points = []
    by_band: dict[int, list[dict[str, Any]]] = {}
    for reg in kb.regulations.values():
        lo, hi = route_span(reg)
        by_band.setdefault(band(reg), []).append(
            {"id": reg["id"], "label": reg["short_name"], "lo": lo, "hi": hi, "band": band(reg)})
    for b, items in by_band.items():
        items.sort(key=lambda p: (p["lo"], p["hi"], p["id"]))
        for i, p in enumerate(items):
            p["y"] = b + (i + 1) / (len(items) + 1) - 0.5
            points.append(p)
    return points


Link = Callable[[str], str] | None


def draw_rigor(kb: KnowledgeBase, highlight: set[str], link: Link = None) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = rigor_points(kb)
    fig, ax = plt.subplots(figsize=(12, 8), dpi=110)
    for b in range(len(BANDS)):
        ax.axhspan(b - 0.5, b + 0.5, color="#f3f5f8" if b % 2 else "#ffffff", zorder=0)
    for p in points:
        on = not highlight or p["id"] in highlight
        color = ACCENT if on else MUTED
        ax.plot([p["lo"], p["hi"]], [p["y"], p["y"]], color=color, lw=6 if on else 4,
                solid_capstyle="round", alpha=0.9, zorder=2, marker="o",
                markersize=11 if on else 8)
        label = ax.annotate(f"{p['label']}  ({p['id']})", (p["hi"], p["y"]), xytext=(10, 0),
                            textcoords="offset points", va="center", fontsize=10,
                            fontweight="bold" if highlight and on else "normal",
                            color="#111" if on else "#666", zorder=3)
        if link is not None:
            label.set_url(link(p["id"]))
    ax.set_xticks(range(len(ROUTES)), ROUTE_LABELS, fontsize=9)
    ax.set_yticks(range(len(BANDS)), BANDS, fontsize=10)
    ax.set_xlim(-0.4, len(ROUTES) + 0.9)
    ax.set_ylim(-0.5, len(BANDS) - 0.5)
    ax.set_xlabel("How conformity is demonstrated  →  more independent", fontsize=11)
    ax.set_ylabel("How binding  →  market-entry barrier", fontsize=11)
    ax.set_title("Rigor landscape of product-security instruments", fontsize=14, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.text(0.01, 0.01, f"prodsec knowledge base {kb.version}; bars span each instrument's "
             "conformity routes (e.g. CRA: Module A for default products … certification "
             "for critical ones)", fontsize=8, color="#555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def draw_scope(kb: KnowledgeBase, highlight: set[str], link: Link = None) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regs = sorted(kb.regulations.values(), key=lambda r: (-band(r), r["id"]))
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(regs) + 2.2), dpi=110)
    for y, reg in enumerate(regs):
        on = not highlight or reg["id"] in highlight
        tags = set(reg["scope"]["tags"])
        implied = IMPLIED_BY_ALL if "all-products-with-digital-elements" in tags else set()
        for x, tag in enumerate(SCOPE_TAGS):
            color = ACCENT if on else MUTED
            if tag in tags:
                ax.scatter(x, y, s=260, marker="s", color=color, zorder=2)
            elif tag in implied:
                ax.scatter(x, y, s=260, marker="s", facecolors="none", edgecolors=color,
                           linewidths=2, zorder=2)
        ax.axhline(y, color="#e5e8ec", lw=0.8, zorder=1)
    labels = [f"{r['short_name']} ({', '.join(r['markets'])})" for r in regs]
    ax.set_yticks(range(len(regs)), labels, fontsize=10)
    if link is not None:
        for tick, reg in zip(ax.get_yticklabels(), regs, strict=True):
            tick.set_url(link(reg["id"]))
    ax.set_xticks(range(len(SCOPE_TAGS)), SCOPE_LABELS, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_xlim(-0.6, len(SCOPE_TAGS) - 0.4)
    ax.set_ylim(len(regs) - 0.5, -0.5)
    ax.set_title("Scope landscape: which products each instrument covers", fontsize=14,
                 loc="left", pad=45)
    fig.text(0.01, 0.01, "filled: named in the instrument's scope; outlined: covered as a "
             "product with digital elements", fontsize=8, color="#555")
    for side in ("right", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


DRAW = {"rigor": draw_rigor, "scope": draw_scope}


def render(kb: KnowledgeBase, kind: str, fmt: str, highlight: Iterable[str] = (),
           link: Link = None) -> bytes:
    """One picture as SVG or PNG bytes; in SVG, ``link(id)`` makes each instrument a link."""
    import matplotlib.pyplot as plt

    fig = DRAW[kind](kb, set(highlight), link)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    plt.close(fig)
    data = buffer.getvalue()
    return data.replace(b' target="_blank"', b"") if link is not None else data


def write(kb: KnowledgeBase, output: Path, kind: str, highlight: set[str]) -> list[Path]:
    """Write one picture, or both as OUTPUT-rigor.EXT and OUTPUT-scope.EXT."""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise InputError(f"--output: expected a file name ending in .svg or .png, got {output}")
    unknown = sorted(highlight - set(kb.regulations))
    if unknown:
        kb.regulation(unknown[0])
    kinds = ["rigor", "scope"] if kind == "both" else [kind]
    written = []
    for k in kinds:
        path = output if len(kinds) == 1 else output.with_name(f"{output.stem}-{k}{output.suffix}")
        data = render(kb, k, fmt, highlight)
        _atomic_write(path, data)
        written.append(path)
    return written


def _atomic_write(path: Path, data: bytes) -> None:
    import os
    import tempfile

    if not path.parent.exists():
        raise InputError(f"--output: directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
