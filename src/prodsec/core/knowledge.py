"""The knowledge base as the core sees it: validated plain data plus the indexes queries need.

The data comes from ``prodsec.knowledge.loader`` (already schema-checked); this module does no
I/O. Indexes are built lazily so a command that lists regulations pays only for that.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Iterable, Mapping
from functools import cached_property

from prodsec.errors import NotFoundError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any

    from prodsec.core.profile import Vocabulary
    from prodsec.core.rules import ListEntry, Node

Doc = dict[str, "Any"]  # a string: typing is not imported at run time
#: The three requirement families every regime shares, in the order they are shown.
CATEGORIES = ("prevention", "readiness", "handling")

#: How each conformity assessment route (``knowledge.schema.Route``) reads on a page, with
#: the provisions that define it in the instruments that use it. Pages show the label, never the
#: route's id, which stays the value of the data and the API.
ROUTE_LABELS: dict[str, dict[str, str]] = {
    "none": {"label": "no conformity assessment (public self-reporting at most)",
             "basis": "CISA Secure by Design pledge (voluntary)"},
    "self": {"label": "self-declaration by the manufacturer",
             "basis": "CRA Art. 32(1) (Module A); UK PSTI Act ss. 8-9 (statement of compliance)"},
    "self-if-harmonised": {
        "label": "self-declaration only if harmonised standards are applied in full, "
                 "otherwise a notified body",
        "basis": "CRA Art. 32(2); Directive 2014/53/EU Art. 17(3)-(4)"},
    "third-party": {"label": "third-party assessment (notified body, test lab or approval authority)",
                    "basis": "CRA Art. 32(3); Directive 2014/53/EU Art. 17(4)"},
    "certification": {"label": "certification or type approval",
                      "basis": "CRA Art. 32(4) and Art. 8(1); UN R155 paras 5-6 (type approval, CSMS certificate)"},
}

#: One obligation as it reaches a requirement: its ``nature`` (mandatory, on-event, voluntary),
#: ``applies_from`` and ``until`` (the last placing date it covers, or None), as ISO dates, and
#: the ``regulation`` and ``obligation`` ids it comes from. (A collections namedtuple: the
#: CLI's fast path does not import typing.)
Window = namedtuple("Window", "nature applies_from until regulation obligation")

#: Relation of the target seen from the other end of a mapping.
INVERSE = {"equal": "equal", "subset": "superset", "superset": "subset", "intersects": "intersects"}


class KnowledgeBase:
    """Regulations, standards, requirements, lists and mappings, by id."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.version: str = data.get("version", "unversioned")
        self.regulations: dict[str, Doc] = dict(data["regulations"])
        self.standards: dict[str, Doc] = dict(data["standards"])
        self.mapping_sets: dict[str, Doc] = dict(data["mappings"])
        log = data.get("changes") or {}
        #: Changes of the law that can change verdicts, oldest first (``changes.yaml``).
        self.changes: list[Doc] = sorted(log.get("changes", []), key=lambda c: (c["date"], c["id"]))
        #: The date up to which the law has been reviewed; stated in every report.
        self.law_as_of: str | None = log.get("law_as_of")

    # ---- lookups ---------------------------------------------------------------------------

    @cached_property
    def short_names(self) -> dict[str, str]:
        """Each instrument's short title by id ("CRA" for ``eu-cra``): what a page shows, the
        id being a code for the data and the API."""
        return {reg_id: str(doc["short_name"]) for reg_id, doc in self.regulations.items()}

    @cached_property
    def vocabulary(self) -> Vocabulary:
        # imported here so that pure knowledge queries (the CLI's fast path) skip it
        from prodsec.core.profile import Vocabulary

        return Vocabulary.from_data(self.data["vocabulary"])

    def regulation(self, reg_id: str) -> Doc:
        try:
            return self.regulations[reg_id]
        except KeyError:
            raise NotFoundError("regulation", reg_id, self.regulations) from None

    def standard(self, std_id: str) -> Doc:
        try:
            return self.standards[std_id]
        except KeyError:
            raise NotFoundError("standard", std_id, self.standards) from None

    def document(self, doc_id: str) -> Doc:
        return self.regulations.get(doc_id) or self.standard(doc_id)

    @cached_property
    def requirements(self) -> dict[str, Doc]:
        """Every requirement and provision by id."""
        out: dict[str, Doc] = {}
        for docs in (self.regulations, self.standards):
            for doc in docs.values():
                for req in doc["requirements"]:
                    out[req["id"]] = req
        return out

    @cached_property
    def requirements_under(self) -> dict[str, list[str]]:
        """Requirement ids by every prefix of their colon-separated path, in ``requirements``
        order: ``eu-cra:annex-i`` → ``eu-cra:annex-i``, ``eu-cra:annex-i:part-1:1``, …. An
        obligation names whole parts of an instrument by prefix; scanning all ~560 ids for
        each of them was the largest cost of compiling the engine for ``prodsec check``."""
        out: dict[str, list[str]] = {}
        for rid in self.requirements:
            end = len(rid)
            while end > 0:
                out.setdefault(rid[:end], []).append(rid)
                end = rid.rfind(":", 0, end)
        return out

    def obligation_requirements(self, obligation: Mapping[str, Any]) -> tuple[str, ...]:
        """The requirements an obligation names: by id, then by prefix; each once."""
        ids = list(obligation["requirements"])
        for prefix in obligation["requirement_prefixes"]:
            ids += self.requirements_under.get(prefix, ())
        return tuple(dict.fromkeys(ids))

    @staticmethod
    def obligation_nature(reg: Mapping[str, Any], obligation: Mapping[str, Any]) -> str:
        """How an obligation binds, as declared (``nature``) or by its instrument's default:
        ``mandatory`` in a mandatory instrument, ``voluntary`` (a label's condition) otherwise."""
        declared = obligation.get("nature")
        if declared:
            return str(declared)
        return "mandatory" if reg.get("binding") == "mandatory" else "voluntary"

    @cached_property
    def requirement_windows(self) -> dict[str, tuple[Window, ...]]:
        """Requirement id → every obligation that names it, as a ``Window``: its nature, the
        date it applies from and the last placing date it covers (``until``: the RED delegated
        act's essential requirements cover equipment placed up to 2027-12-10, Delegated Reg.
        (EU) 2026/339), with its regulation and obligation ids for the citation."""
        out: dict[str, list[Window]] = {}
        for reg in self.regulations.values():
            app = reg.get("applicability") or {}
            for ob in app.get("obligations", ()):
                window = Window(self.obligation_nature(reg, ob), ob["applies_from"],
                                ob.get("until"), reg["id"], ob["id"])
                for rid in self.obligation_requirements(ob):
                    out.setdefault(rid, []).append(window)
        return {rid: tuple(windows) for rid, windows in out.items()}

    @cached_property
    def requirement_terms(self) -> dict[str, dict[str, str]]:
        """Requirement id → {nature: the earliest date an obligation of that nature makes it
        apply}. CRA: Art. 14 ``on-event`` from 2026-09-11, Annex I ``mandatory`` from
        2027-12-11; SG CLS Level 1 ``mandatory`` (routers) from 2021-04-13 and ``voluntary``
        (the label) from 2020-10-07. Requirements no obligation names have no entry."""
        out: dict[str, dict[str, str]] = {}
        for rid, windows in self.requirement_windows.items():
            terms = out.setdefault(rid, {})
            for w in windows:
                if w.nature not in terms or w.applies_from < terms[w.nature]:
                    terms[w.nature] = w.applies_from
        return out

    def requirement(self, req_id: str) -> Doc:
        try:
            return self.requirements[req_id]
        except KeyError:
            raise NotFoundError("requirement", req_id, self.requirements) from None

    @staticmethod
    def document_id(item_id: str) -> str:
        return item_id.split(":", 1)[0]

    @cached_property
    def lists(self) -> dict[str, Doc]:
        out: dict[str, Doc] = {}
        for docs in (self.regulations, self.standards):
            for doc in docs.values():
                for lst in doc["lists"]:
                    out[lst["id"]] = lst
        return out

    @property
    def product_regulations(self) -> list[Doc]:
        return [r for r in self.regulations.values() if r["product_level"]]

    # ---- citations -------------------------------------------------------------------------

    def cite(self, citation: Mapping[str, Any] | None, doc: Mapping[str, Any] | None = None) -> str | None:
        """A citation as one line: 'CRA Art. 14(2)(a) <url>' (instrument defaults to doc)."""
        if citation is None:
            return None
        instrument = citation.get("instrument") or (doc["short_name"] if doc else None)
        text = f"{instrument} {citation['ref']}" if instrument else citation["ref"]
        if citation.get("verified") is False:
            text += " [unverified]"
        return text

    # ---- mappings --------------------------------------------------------------------------

    @cached_property
    def mappings(self) -> list[Doc]:
        return [m | {"set": set_id} for set_id, s in self.mapping_sets.items() for m in s["mappings"]]

    @cached_property
    def _neighbours(self) -> dict[str, list[tuple[str, str, Doc]]]:
        """Requirement id → [(other id, relation seen from this id, mapping)]."""
        out: dict[str, list[tuple[str, str, Doc]]] = defaultdict(list)
        for m in self.mappings:
            out[m["source"]].append((m["target"], m["relation"], m))
            out[m["target"]].append((m["source"], INVERSE[m["relation"]], m))
        return out

    def mapped(self, req_id: str) -> list[tuple[str, str, Doc]]:
        """Direct mappings of a requirement, seen from it."""
        self.requirement(req_id)
        return list(self._neighbours.get(req_id, ()))

    def related(self, req_id: str, depth: int = 2) -> list[dict[str, Any]]:
        """Everything equal or overlapping across regimes, up to ``depth`` mapping hops.

        Two hops find "comply once" links through a standard: PSTI ↔ EN 303 645 ↔ CRA.
        """
        self.requirement(req_id)
        seen = {req_id}
        frontier: list[tuple[str, list[tuple[str, Doc]]]] = [(req_id, [])]
        out: list[dict[str, Any]] = []
        for hop in range(1, depth + 1):
            nxt: list[tuple[str, list[tuple[str, Doc]]]] = []
            for node, path in frontier:
                for other, relation, mapping in self._neighbours.get(node, ()):
                    if other in seen:
                        continue
                    seen.add(other)
                    chain = [*path, (relation, mapping)]
                    out.append({
                        "requirement": other,
                        "relation": _compose([r for r, _ in chain]),
                        "hops": hop,
                        "via": [node] if hop > 1 else [],
                        "confidence": _weakest([m for _, m in chain]),
                        "citations": [self.cite(m["citation"], self._doc_of_mapping(m))
                                      for _, m in chain],
                    })
                    nxt.append((other, chain))
            frontier = nxt
        return out

    def _doc_of_mapping(self, mapping: Mapping[str, Any]) -> Doc | None:
        return self.regulations.get(self.document_id(mapping["source"])) or self.standards.get(
            self.document_id(mapping["source"]))

    # ---- rules -----------------------------------------------------------------------------

    def _list_entries(self, list_id: str) -> tuple[str, list[ListEntry]]:
        from prodsec.core.rules import ListEntry

        lst = self.lists[list_id]
        doc = self.document(self.document_id(list_id))
        entries = [
            ListEntry(item["text"], self.cite(item.get("citation") or lst["citation"], doc),
                      frozenset(item["functions"]))
            for item in lst["items"]
        ]
        return f"{doc['short_name']} {lst['title']}", entries

    def compile(self, rule: Mapping[str, Any] | None, doc: Mapping[str, Any]) -> Node | None:
        if rule is None:
            return None
        from prodsec.core.rules import compile_rule

        return compile_rule(rule, lambda c: self.cite(c, doc), self._list_entries)

    def ids(self, kind: str) -> Iterable[str]:
        return {"regulation": self.regulations, "standard": self.standards,
                "requirement": self.requirements}[kind]


def _weakest(chain: list[Doc]) -> str:
    order = ["low", "medium", "high"]
    return str(min((m["confidence"] for m in chain), key=order.index))


def _compose(relations: list[str]) -> str:
    """The relation along a chain: equal∘equal = equal, subset∘subset = subset, else intersects."""
    kinds = set(relations) - {"equal"}
    if not kinds:
        return "equal"
    if kinds in ({"subset"}, {"superset"}):
        return kinds.pop()
    return "intersects"
