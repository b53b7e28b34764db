"""The applicability engine: which instruments bind a product, how strictly, from when, and why.

For every product-level instrument it evaluates the instrument's rule data (scope, exclusions,
mandate, classes, obligations) against a profile on an as-of date, and returns a verdict with
its cited reasons. Pure: data in, data out.

Status on date D:
* ``not-applicable`` — out of scope, excluded, or the scheme closed / the act repealed by D;
* ``undetermined``  — a missing fact decides the outcome (the verdict names it);
* ``required``      — binding and at least one of its binding obligations applies on D;
* ``upcoming``      — binding, but none of its binding obligations applies yet on D;
* ``voluntary``     — a voluntary scheme the product is eligible for.

Each obligation says how it binds this product (``nature``): ``mandatory`` (due from its date),
``on-event`` (a standing duty an event triggers, CRA Art. 14) or ``voluntary`` (a condition of
a voluntary label: to do for the label, never missed). Only the first two make a verdict
``required``: a router in Singapore is required from the CLS Level 1 mandate (2021-04-13), not
from the label's launch (2020-10-07).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from prodsec.core.knowledge import CATEGORIES, Doc, KnowledgeBase
from prodsec.core.ordering import natural_key, natural_sorted
from prodsec.core.profile import Profile
from prodsec.core.record import Record
from prodsec.core.rules import Node, Outcome, Reason, projection

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:  # the views import typing_extensions, which `prodsec check` need not load
    from typing import Any

    from prodsec.core.verdict_view import CheckView, ObligationView, VerdictView

MAKER_ROLES = frozenset({"manufacturer", "vehicle-manufacturer", "signatory", "applicant"})
#: How a class's route reads in a verdict; certification is a third-party route.
ASSESSMENT = {"none": None, "self": "self", "self-if-harmonised": "self-if-harmonised",
              "third-party": "third-party", "certification": "third-party"}


class ObligationVerdict(Record):
    id: str
    title: str
    text: str
    applies_from: str
    until: str | None
    in_force: bool
    citation: str | None
    requirements: tuple[str, ...]
    deadlines: tuple[dict[str, Any], ...]
    #: ``mandatory``, ``on-event`` or ``voluntary`` for this product (see the module docstring).
    nature: str = "mandatory"

    @property
    def binds(self) -> bool:
        """Whether it binds the product (as opposed to a condition of a voluntary label)."""
        return self.nature != "voluntary"

    def to_dict(self) -> ObligationView:
        return {
            "id": self.id, "title": self.title, "text": self.text,
            "applies_from": self.applies_from, "until": self.until, "in_force": self.in_force,
            "nature": self.nature, "citation": self.citation,
            "requirements": list(self.requirements), "deadlines": list(self.deadlines),
        }


_RANK = {"low": 0, "medium": 1, "high": 2}
_WORD = {v: k for k, v in _RANK.items()}


class Verdict(Record):
    """One instrument's verdict. (NamedTuples, not dataclasses, on this path: creating a
    dataclass costs about a millisecond at import, and ``prodsec check`` counts them.)"""

    regulation: str
    title: str
    status: str
    category: str | None
    assessment: str | None
    assessment_detail: str | None
    applies_from: str | None
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...] = ()
    obligations: tuple[ObligationVerdict, ...] = ()
    standards: tuple[dict[str, Any], ...] = ()
    requirements: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    #: The requirement ids this verdict binds the product to (the comply-once cache key).
    binding_ids: frozenset[str] = frozenset()

    @property
    def binds(self) -> bool:
        return self.status in ("required", "upcoming", "voluntary")


    def to_dict(self) -> VerdictView:
        return {
            "regulation": self.regulation, "title": self.title, "status": self.status,
            "category": self.category, "assessment": self.assessment,
            "assessment_detail": self.assessment_detail, "applies_from": self.applies_from,
            "reasons": [r.to_dict() for r in self.reasons], "missing_facts": list(self.missing),
            "obligations": [o.to_dict() for o in self.obligations],
            "standards": list(self.standards),
            "requirements": {k: list(v) for k, v in self.requirements.items()},
        }


class Check(Record):
    """All verdicts for one profile on one date, plus the "comply once" groups."""

    product: str
    as_of: str
    results: tuple[Verdict, ...]
    comply_once: tuple[dict[str, Any], ...]
    #: The knowledge base's "law as of" date: the law has been reviewed up to it.
    law_as_of: str | None = None

    def to_dict(self) -> CheckView:
        return {"product": self.product, "as_of": self.as_of, "law_as_of": self.law_as_of,
                "results": [r.to_dict() for r in self.results],
                "comply_once": list(self.comply_once)}


class _Compiled:
    """An instrument's rules, compiled once per knowledge base."""

    def __init__(self, kb: KnowledgeBase, reg: Doc) -> None:
        app = reg["applicability"]
        self.reg = reg
        self.scope = kb.compile(app["scope"], reg)
        self.exclusions = [(e, kb.compile(e["when"], reg)) for e in app["exclusions"]]
        self.mandatory = kb.compile(app.get("mandatory_when"), reg)
        self.classes = [(c, kb.compile(c.get("when"), reg)) for c in app["classes"]]
        self.obligations = [(o, kb.compile(o.get("when"), reg), kb.obligation_requirements(o))
                            for o in app["obligations"]]
        self.requirement_rules = {r["id"]: kb.compile(r.get("when"), reg)
                                  for r in reg["requirements"]}
        app_territory = app.get("territory")
        self.territory = _Territory(kb, reg, app_territory) if app_territory else None
        self.status_history = sorted(app.get("status_history") or [], key=lambda p: p["since"])
        self.ends = sorted((d["date"], d) for d in reg["dates"] if d["kind"] in ("repeal", "closure"))
        self.project = projection([
            *_territory_nodes(app_territory),
            self.scope, self.mandatory, *(n for _, n in self.exclusions),
            *(n for _, n in self.classes), *(n for _, n, _ in self.obligations),
            *self.requirement_rules.values()])
        self.memo: dict[Any, Verdict] = {}
        self.standards = tuple(
            {"standard": s["standard"], "relation": s["relation"],
             "title": kb.standards[s["standard"]]["short_name"],
             "restriction": s.get("restriction"), "citation": kb.cite(s["citation"], reg)}
            for s in reg["standards"])


def _territory_nodes(data: Doc | None) -> list[Node]:
    """Stand-in rule leaves so the memo key sees every market the territory check reads."""
    from prodsec.core.rules import FactNode

    if not data:
        return []
    if data["open"]:
        return [FactNode("markets", "is", None, None, None)]  # every market matters
    codes = {*data["applies"], *data["outside"],
             *(m for e in data["undetermined"] for m in e["markets"])}
    return [FactNode("markets", "contains_any", sorted(codes), None, None)]


class Engine:
    """Checks profiles against one knowledge base; compile once, check many."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.compiled = [_Compiled(kb, r) for r in kb.product_regulations]

        self._groups: dict[tuple[frozenset[str], ...], tuple[dict[str, Any], ...]] = {}

    def check(self, profile: Profile, as_of: dt.date) -> Check:
        day = as_of.isoformat()
        results = tuple([self._memo_verdict(c, profile, day) for c in self.compiled])
        key = tuple([v.binding_ids for v in results])
        groups = self._groups.get(key)
        if groups is None:
            groups = self._groups[key] = self._comply_once(results)
            _bound(self._groups)
        return Check(profile.name, day, results, groups, self.kb.law_as_of)

    def _memo_verdict(self, c: _Compiled, profile: Profile, day: str) -> Verdict:
        """A verdict depends only on the facts its rules see and the date: memoise on those."""
        key = (day, c.project(profile))
        verdict = c.memo.get(key)
        if verdict is None:
            verdict = c.memo[key] = self._verdict(c, profile, day)
            _bound(c.memo)
        return verdict

    # ---- one instrument --------------------------------------------------------------------

    def _verdict(self, c: _Compiled, profile: Profile, day: str) -> Verdict:
        reg = c.reg
        base: dict[str, Any] = {"regulation": reg["id"], "title": reg["title"]}
        scope = _run(c.scope, profile)
        if scope.value is False and c.territory is not None:
            unsettled = c.territory.unsettled(profile.markets)
            # undetermined only when the market is what keeps the product out: in scope (or
            # unknown) were it sold where the instrument surely applies
            if unsettled and _run(c.scope, profile._replace(
                    markets=profile.markets | c.territory.applies)).value is not False:
                return Verdict(**base, status="undetermined", category=None, assessment=None,
                               assessment_detail=None, applies_from=None,
                               reasons=tuple(unsettled), missing=("markets",))
        if scope.value is False:
            return Verdict(**base, status="not-applicable", category=None, assessment=None,
                           assessment_detail=None, applies_from=None,
                           reasons=_failing(scope.reasons))
        reasons = list(scope.reasons)
        missing = set(scope.missing)
        for exclusion, node in c.exclusions:
            since = exclusion.get("applies_from")
            if since is not None and since > day:
                continue  # an exclusion made by a later act counts from its own date
            out = _run(node, profile)
            if out.value is True:
                cite = self.kb.cite(exclusion["citation"], reg)
                why = (Reason(f"Excluded: {exclusion['text']}", cite, True), *_holding(out.reasons))
                return Verdict(**base, status="not-applicable", category=None, assessment=None,
                               assessment_detail=None, applies_from=None, reasons=why)
            if out.value is None:
                missing |= out.missing
                reasons += [Reason(f"Possible exclusion: {exclusion['text']}",
                                   self.kb.cite(exclusion["citation"], reg), None)]
        if missing:
            return Verdict(**base, status="undetermined", category=None, assessment=None,
                           assessment_detail=None, applies_from=None,
                           reasons=tuple(r for r in reasons if r.holds is not True) or tuple(reasons),
                           missing=tuple(sorted(missing)))
        closed = reg["applicability"].get("closed")
        if closed:
            notice = Reason(f"Closed to new products: {closed['text']}",
                            self.kb.cite(closed["citation"], reg), True)
            return Verdict(**base, status="not-applicable", category=None, assessment=None,
                           assessment_detail=None, applies_from=None, reasons=(notice,))
        paused = _programme_state(c, day)
        if paused is not None:
            return Verdict(**base, status="not-applicable", category=None, assessment=None,
                           assessment_detail=None, applies_from=None,
                           reasons=self._paused_reasons(c, paused))
        ended = [d for date, d in c.ends if date <= day]
        if ended:
            last = ended[-1]
            ended_reason = Reason(f"{last['text']} ({last['date']})",
                                  self.kb.cite(last["citation"], reg), True)
            return Verdict(**base, status="not-applicable", category=None, assessment=None,
                           assessment_detail=None, applies_from=None, reasons=(ended_reason,))
        return self._applicable(c, profile, day, base, reasons)

    def _paused_reasons(self, c: _Compiled, period: Doc) -> tuple[Reason, ...]:
        word = {"paused": "Paused", "closed": "Closed"}[period["status"]]
        cite = self.kb.cite(period["citation"], c.reg)
        reasons = [Reason(f"{word} to new products since {period['since']}: {period['text']}",
                          cite, True)]
        if period.get("meanwhile"):
            reasons.append(Reason(f"Meanwhile: {period['meanwhile']}", cite, True))
        return tuple(reasons)

    def _applicable(self, c: _Compiled, profile: Profile, day: str, base: dict[str, Any],
                    reasons: list[Reason]) -> Verdict:
        reg = c.reg
        binding = reg["binding"] == "mandatory"
        if not binding and c.mandatory is not None:
            mandate = c.mandatory.evaluate(profile)
            if mandate.value is True:
                binding = True
                reasons += [Reason(f"Mandatory for this product: {r.text}", r.citation, True)
                            for r in mandate.reasons]
        category, route = None, reg["applicability"].get("assessment")
        for cls, node in c.classes:
            out = _run(node, profile)
            if node is None or out.value is True:
                category, route = cls["id"], cls["assessment"]
                reasons.append(Reason(f"{cls['title']}: {cls['text']}",
                                      self.kb.cite(cls["citation"], reg), True))
                reasons += [r for r in out.reasons if node is not None]
                break
        obligations = self._obligations(c, profile, day, binding)
        duties = [o for o in obligations if o.binds]
        if not binding:
            status = "voluntary"
        elif any(o.in_force for o in duties):
            status = "required"
        elif any(o.until is None or o.until > day for o in duties):
            status = "upcoming"
        else:
            status = "not-applicable"
        starts = sorted(o.applies_from for o in (duties if binding else obligations))
        requirements = self._requirements(c, profile, obligations)
        binds = status in ("required", "upcoming", "voluntary")
        return Verdict(
            **base, status=status, category=category if c.classes else None,
            assessment=ASSESSMENT.get(route or "none"), assessment_detail=route,
            applies_from=starts[0] if starts else None, reasons=tuple(reasons),
            obligations=tuple(obligations), standards=c.standards, requirements=requirements,
            binding_ids=frozenset(r for g in requirements.values() for r in g) if binds
            else frozenset())

    def _obligations(self, c: _Compiled, profile: Profile, day: str,
                     binding: bool) -> list[ObligationVerdict]:
        out = []
        for ob, node, req_ids in c.obligations:
            nature = self.kb.obligation_nature(c.reg, ob)
            if not binding:
                nature = "voluntary"  # a voluntary scheme's mandate does not hold for it
            if node is not None and node.value(profile) is False:
                continue
            start, until = ob["applies_from"], ob.get("until")
            deadlines = tuple(
                d | {"requirement": rid}
                for rid in req_ids for d in self.kb.requirements[rid]["deadlines"])
            out.append(ObligationVerdict(
                id=ob["id"], title=ob["title"], text=ob["text"], applies_from=start, until=until,
                in_force=start <= day and (until is None or day < until),
                citation=self.kb.cite(ob["citation"], c.reg), requirements=req_ids,
                deadlines=deadlines, nature=nature))
        return out

    def _requirements(self, c: _Compiled, profile: Profile,
                      obligations: Sequence[ObligationVerdict]) -> dict[str, tuple[str, ...]]:
        """Binding requirement ids by category; a requirement whose condition is false drops."""
        grouped: dict[str, list[str]] = {k: [] for k in CATEGORIES}
        seen: set[str] = set()
        for ob in obligations:
            for rid in ob.requirements:
                if rid in seen:
                    continue
                seen.add(rid)
                req = self.kb.requirements[rid]
                if req["role"] not in MAKER_ROLES:
                    continue
                node = c.requirement_rules.get(rid)
                if node is not None and node.value(profile) is False:
                    continue
                grouped[req["category"]].append(rid)
        return {k: tuple(v) for k, v in grouped.items()}

    # ---- across instruments ----------------------------------------------------------------

    def _links(self, reqs: Sequence[str], binding: dict[str, str]) -> list[dict[str, Any]]:
        """Within one comply-once group, for each requirement the requirements of *other*
        instruments one measure satisfies: mapped directly, or through one standard's clause
        mapped to both. The confidence of a link is the lower of its mappings' (high > medium >
        low); the best link to each requirement is kept. This is what a person reads ("doing
        CRA Annex I 2(b) also covers PSTI 1, high"), where the group alone is a matrix."""
        edges: dict[str, dict[str, str]] = {}
        for m in self.kb.mappings:
            a, b, c = m["source"], m["target"], m.get("confidence", "low")
            for x, y in ((a, b), (b, a)):
                if _RANK.get(c, 0) > _RANK.get(edges.get(x, {}).get(y, ""), -1):
                    edges.setdefault(x, {})[y] = c
        out = []
        for r in reqs:
            best: dict[str, tuple[int, str | None]] = {}
            for mid, c1 in edges.get(r, {}).items():
                hops = [(mid, c1, None)] if mid in binding else [
                    (s, min(c1, c2, key=lambda v: _RANK.get(v, 0)), mid)
                    for s, c2 in edges.get(mid, {}).items() if s in binding]
                for s, conf, via in hops:
                    if s == r or binding[s] == binding[r]:
                        continue
                    rank = _RANK.get(conf, 0)
                    if s not in best or rank > best[s][0]:
                        best[s] = (rank, via)
            if best:
                out.append({"requirement": r, "regulation": binding[r], "satisfies": [
                    {"requirement": s, "regulation": binding[s], "via": via,
                     "confidence": _WORD[rank]}
                    for s, (rank, via) in sorted(best.items(),
                                                 key=lambda i: (-i[1][0], natural_key(i[0])))]})
        return out

    def _comply_once(self, results: Iterable[Verdict]) -> tuple[dict[str, Any], ...]:
        """Groups of binding requirements of different instruments linked by mappings.

        Mappings are followed through standards' provisions too (PSTI ↔ EN 303 645 ↔ CRA), so a
        measure done once is seen to count for every regime in its group.
        """
        binding = {rid: v.regulation for v in results if v.binds
                   for ids in v.requirements.values() for rid in ids}
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.get(x, x) != x:
                x = parent[x]
            return x

        for m in self.kb.mappings:
            a, b = m["source"], m["target"]
            if _joinable(a, binding, self.kb) and _joinable(b, binding, self.kb):
                parent[find(a)] = find(b)
        groups: dict[str, list[str]] = {}
        for rid in parent:
            groups.setdefault(find(rid), []).append(rid)
        out = []
        for members in groups.values():
            reqs = natural_sorted([r for r in members if r in binding])
            regs = sorted({binding[r] for r in reqs})
            if len(regs) < 2:
                continue
            via = natural_sorted([r for r in members if r not in binding])
            cats = sorted({self.kb.requirements[r]["category"] for r in reqs})
            out.append({"requirements": reqs, "regulations": regs, "via": via,
                        "categories": cats, "links": self._links(reqs, binding)})
        out.sort(key=lambda g: (-len(g["regulations"]), [natural_key(r) for r in g["requirements"]]))
        return tuple(out)


MEMO_LIMIT = 200_000


def _programme_state(c: _Compiled, day: str) -> Doc | None:
    """The latest dated state of a voluntary programme on ``day`` when it is not open."""
    current = None
    for period in c.status_history:
        if period["since"] <= day:
            current = period
    return current if current is not None and current["status"] != "open" else None


class _Territory:
    """Where an instrument applies, and which markets leave its application unsettled.

    A product none of whose markets is in the territory is not silently "not applicable" when
    one of its markets is one the knowledge base has not settled (EEA incorporation not
    confirmed, Northern Ireland, a 1958 Agreement party not modelled): the verdict is
    undetermined and names the market.
    """

    def __init__(self, kb: KnowledgeBase, reg: Doc, data: Doc) -> None:
        self.applies = frozenset(data["applies"])
        self.entries = [(frozenset(e["markets"]), e["text"], kb.cite(e["citation"], reg))
                        for e in data["undetermined"]]
        self.open = data["open"]
        self.outside = frozenset(data["outside"])
        self.groups = frozenset(kb.vocabulary.market_groups)
        self.cite = kb.cite(data["citation"], reg)
        self.text = data["text"]

    def unsettled(self, markets: frozenset[str]) -> list[Reason]:
        if markets & self.applies:
            return []
        reasons = []
        for codes, text, cite in self.entries:
            hit = sorted(markets & codes)
            if hit:
                reasons.append(Reason(f"Not settled for {', '.join(hit)}: {text}", cite, None))
        if self.open:
            listed = frozenset().union(*(codes for codes, _, _ in self.entries))
            rest = sorted(markets - self.outside - self.groups - listed)
            if rest:
                reasons.append(Reason(
                    f"Not modelled for {', '.join(rest)}: {self.text}", self.cite, None))
        return reasons


def _bound(memo: dict[Any, Any]) -> None:
    """Keep memo tables from growing without limit on adversarial input."""
    if len(memo) > MEMO_LIMIT:
        memo.clear()


def _joinable(rid: str, binding: dict[str, str], kb: KnowledgeBase) -> bool:
    """A mapping end joins a group if it binds the product or is a standard's provision."""
    return rid in binding or KnowledgeBase.document_id(rid) in kb.standards


def _run(node: Node | None, profile: Profile) -> Outcome:
    if node is None:
        return Outcome(True, (), frozenset())
    return node.evaluate(profile)


def _failing(reasons: Sequence[Reason]) -> tuple[Reason, ...]:
    failing = tuple(r for r in reasons if r.holds is False)
    return failing or tuple(reasons)


def _holding(reasons: Sequence[Reason]) -> tuple[Reason, ...]:
    return tuple(r for r in reasons if r.holds is True)
