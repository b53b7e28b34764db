"""The layer map of docs/architecture.md as data, and the import graph it is checked against.

Every import counts, at module level or inside a function (the in-function imports that keep
start-up lean would otherwise hide a cycle or an upward dependency).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

# Lowest first. A module may import its own layer's modules and any lower layer's.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("prodsec", "prodsec.errors", "prodsec.untrusted"),
    ("prodsec.core",),
    ("prodsec.knowledge",),
    ("prodsec.services",),
    ("prodsec.formats", "prodsec.vuln", "prodsec.db", "prodsec.jobs"),
    ("prodsec.workspace",),
    ("prodsec.documents",),
    ("prodsec.api", "prodsec.web", "prodsec.cli", "prodsec.__main__"),
)
# Faces are one layer but do not use each other, except: the web UI reads forms and client
# addresses with the API's HTTP plumbing, and `prodsec serve` starts the API and the web UI.
FACES = ("prodsec.api", "prodsec.web", "prodsec.cli", "prodsec.__main__")
FACE_TO_FACE = {
    ("prodsec.web", "prodsec.api.middleware"),
    ("prodsec.web", "prodsec.api.clients"),
    ("prodsec.cli.server", "prodsec.api"),
    ("prodsec.cli.server", "prodsec.web"),
    ("prodsec.__main__", "prodsec.cli"),
}


def modules(package_dir: Path) -> dict[str, Path]:
    """Module name -> file, for every module below ``package_dir`` (a ``prodsec`` folder)."""
    found = {}
    for path in package_dir.rglob("*.py"):
        parts = ("prodsec", *path.relative_to(package_dir).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The prodsec modules ``name`` imports anywhere in its file (``from pkg import mod``
    counts as an import of ``pkg.mod``, not of the package's ``__init__``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        yield from (t for t in targets if t in known and t != name)


def graph(package_dir: Path) -> dict[str, set[str]]:
    known = modules(package_dir)
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        edges[name].update(imports(name, path, known))
    return edges


def unit(module: str) -> str:
    """The layer unit a module belongs to: its top-level package below ``prodsec``."""
    for layer in LAYERS:
        for prefix in sorted(layer, key=len, reverse=True):
            if module == prefix or (prefix != "prodsec" and module.startswith(prefix + ".")):
                return prefix
    return "prodsec"


def rank(module: str) -> int:
    owner = unit(module)
    return next(i for i, layer in enumerate(LAYERS) if owner in layer)


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    """Every import that points up the map, or from one face into another uninvited."""
    found = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            if rank(target) > rank(source):
                found.append(f"{source} -> {target} (upward: {unit(source)} is below "
                             f"{unit(target)})")
            elif (unit(source) in FACES and unit(target) in FACES
                  and unit(source) != unit(target) and not _invited(source, target)):
                found.append(f"{source} -> {target} (one face into another)")
    return found


def _invited(source: str, target: str) -> bool:
    return any((source == s or source.startswith(s + ".")) and
               (target == t or target.startswith(t + ".")) for s, t in FACE_TO_FACE)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found
