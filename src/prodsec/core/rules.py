"""A small evaluator for the declarative rule trees of the knowledge files.

Rules are data (``all`` / ``any`` / ``not`` over profile facts and knowledge lists), compiled
once into node objects and evaluated with three-valued logic: ``True``, ``False`` or ``None``
(unknown). A missing fact never becomes "no": it makes its leaf unknown, and an unknown that
decides the outcome names the missing fact. There is no ``eval``: the only operations are the
handful of comparisons below.

Each outcome carries its *reasons*: the texts and citations of the nodes that decided it, each
marked with whether its condition held, so a verdict can say why it is what it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

from prodsec.core.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any, Protocol

    from prodsec.core.verdict_view import ReasonView

    class Facts(Protocol):
        """What a rule reads: a profile's facts by path (``Profile.fact``)."""

        def fact(self, path: str) -> Any: ...

    CiteFn = Callable[[Mapping[str, Any] | None], str | None]
    ListFn = Callable[[str], tuple[str, Sequence["ListEntry"]]]
    Projection = Callable[[Facts], Any]

Truth = bool | None


class Reason(Record):
    """Why a node came out as it did: its text, its citation, and whether it held.
    ``decisive`` is false for a condition that came out the same way as the one that decided
    (a second branch of an ``any`` that also holds): it was checked, but the verdict does not
    rest on it, and a face shows it folded ("also checked"), never as the reason."""

    text: str
    citation: str | None
    holds: Truth
    decisive: bool = True

    def to_dict(self) -> ReasonView:
        out: ReasonView = {"text": self.text, "citation": self.citation, "holds": self.holds}
        if not self.decisive:
            out["decisive"] = False
        return out


class Outcome(Record):
    value: Truth
    reasons: tuple[Reason, ...]
    missing: frozenset[str]


NO_MISSING: frozenset[str] = frozenset()


class Node(ABC):
    """A compiled rule node."""

    __slots__ = ("citation", "text")

    def __init__(self, text: str | None, citation: str | None) -> None:
        self.text = text
        self.citation = citation

    @abstractmethod
    def evaluate(self, facts: Facts) -> Outcome:
        """The outcome with its reasons and missing facts."""

    def value(self, facts: Facts) -> Truth:
        """The outcome without reasons: the fast path for bulk evaluation."""
        return self.evaluate(facts).value

    def _own(self, value: Truth, missing: frozenset[str], inner: tuple[Reason, ...]) -> Outcome:
        """A node with its own text speaks for its children when it holds; when it fails or is
        unknown, the deciding children follow it, so a user sees which condition was not met."""
        if self.text is None:
            return Outcome(value, inner, missing)
        own = Reason(self.text, self.citation, value)
        return Outcome(value, (own,) if value else (own, *inner), missing)


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "is":
        return bool(actual == expected)
    if op == "in":
        return actual in expected
    if op == "contains_any":
        wanted = expected if isinstance(expected, list) else [expected]
        return any(v in actual for v in wanted)
    if op == "contains_all":
        wanted = expected if isinstance(expected, list) else [expected]
        return all(v in actual for v in wanted)
    if op == "ge":
        return bool(actual >= expected)
    if op == "le":
        return bool(actual <= expected)
    if op == "empty":
        return (len(actual) == 0) == bool(expected)
    raise ValueError(f"unknown operator {op!r}")


_OP_WORDS = {
    "is": "is", "in": "is one of", "contains_any": "includes any of",
    "contains_all": "includes all of", "ge": "is at least", "le": "is at most",
}


class FactNode(Node):
    __slots__ = ("expected", "op", "path")

    def __init__(self, path: str, op: str, expected: Any, text: str | None,
                 citation: str | None) -> None:
        super().__init__(text, citation)
        self.path, self.op, self.expected = path, op, expected

    def describe(self) -> str:
        if self.op == "present":
            return f"{self.path} is given"
        if self.op == "empty":
            return f"{self.path} is {'empty' if self.expected else 'not empty'}"
        value = self.expected
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value).lower()
        return f"{self.path} {_OP_WORDS[self.op]} {shown}"

    def evaluate(self, facts: Facts) -> Outcome:
        value = self.value(facts)
        missing = frozenset((self.path,)) if value is None else NO_MISSING
        text = self.text if self.text is not None else self.describe()
        return Outcome(value, (Reason(text, self.citation, value),), missing)

    def value(self, facts: Facts) -> Truth:
        actual = facts.fact(self.path)
        if self.op == "present":
            return actual is not None
        if actual is None:
            return None
        return _compare(self.op, actual, self.expected)


class ListEntry(Record):
    text: str
    citation: str | None
    functions: frozenset[str]


class ListNode(Node):
    """True when the profile's functions match an item of a knowledge list (Annex III...)."""

    __slots__ = ("entries", "title")

    def __init__(self, title: str, entries: Sequence[ListEntry], text: str | None,
                 citation: str | None) -> None:
        super().__init__(text, citation)
        self.title, self.entries = title, tuple(entries)

    def evaluate(self, facts: Facts) -> Outcome:
        functions = facts.fact("functions") or frozenset()
        hits = [e for e in self.entries if e.functions & functions]
        if hits:
            reasons = tuple(Reason(f"{self.title}: {e.text}", e.citation, True) for e in hits)
            return Outcome(True, reasons, NO_MISSING)
        text = self.text or f"the product's functions are listed in {self.title}"
        return Outcome(False, (Reason(text, self.citation, False),), NO_MISSING)

    def value(self, facts: Facts) -> Truth:
        functions = facts.fact("functions") or frozenset()
        return any(e.functions & functions for e in self.entries)


class _Junction(Node):
    """``all`` and ``any``: one child with the decisive value decides (false for all, true for
    any); otherwise an unknown child makes the whole unknown; otherwise the other value."""

    __slots__ = ("children",)
    decisive: bool

    def __init__(self, children: Sequence[Node], text: str | None, citation: str | None) -> None:
        super().__init__(text, citation)
        self.children = tuple(children)

    def evaluate(self, facts: Facts) -> Outcome:
        outcomes = [c.evaluate(facts) for c in self.children]
        decided = [o for o in outcomes if o.value is self.decisive]
        if decided and self.decisive:  # any: the first branch that holds decides; the
            # others that hold too were only also checked (never shown as the reason)
            also = tuple(r._replace(decisive=False) for r in _reasons(decided[1:]))
            return self._own(True, NO_MISSING, decided[0].reasons + also)
        if decided:  # all: every failing condition is a reason why not
            return self._own(False, NO_MISSING, _reasons(decided))
        unknown = [o for o in outcomes if o.value is None]
        if unknown:
            return self._own(None, _missing(unknown), _reasons(unknown))
        return self._own(not self.decisive, NO_MISSING, _reasons(outcomes))

    def value(self, facts: Facts) -> Truth:
        result: Truth = not self.decisive
        for child in self.children:
            v = child.value(facts)
            if v is self.decisive:
                return v
            if v is None:
                result = None
        return result


class AllNode(_Junction):
    __slots__ = ()
    decisive = False


class AnyNode(_Junction):
    __slots__ = ()
    decisive = True


class NotNode(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node, text: str | None, citation: str | None) -> None:
        super().__init__(text, citation)
        self.child = child

    def evaluate(self, facts: Facts) -> Outcome:
        inner = self.child.evaluate(facts)
        value = None if inner.value is None else not inner.value
        return self._own(value, inner.missing, inner.reasons)

    def value(self, facts: Facts) -> Truth:
        v = self.child.value(facts)
        return None if v is None else not v


def _reasons(outcomes: Sequence[Outcome]) -> tuple[Reason, ...]:
    return tuple(r for o in outcomes for r in o.reasons)


def _missing(outcomes: Sequence[Outcome]) -> frozenset[str]:
    return frozenset().union(*(o.missing for o in outcomes))




def compile_rule(rule: Mapping[str, Any], cite: CiteFn, lists: ListFn) -> Node:
    """Turn a rule tree (plain data, already schema-validated) into nodes."""
    text, citation = rule.get("text"), cite(rule.get("citation"))
    if "all" in rule:
        return AllNode([compile_rule(r, cite, lists) for r in rule["all"]], text, citation)
    if "any" in rule:
        return AnyNode([compile_rule(r, cite, lists) for r in rule["any"]], text, citation)
    if "not" in rule:
        return NotNode(compile_rule(rule["not"], cite, lists), text, citation)
    if "list" in rule:
        title, entries = lists(rule["list"])
        return ListNode(title, entries, text, citation)
    if "fact" in rule:
        return FactNode(rule["fact"], rule.get("op") or "is", rule.get("value"), text, citation)
    raise ValueError(f"not a rule: {sorted(rule)}")


def leaves(node: Node | None) -> list[Node]:
    """Every leaf (fact or list) of a compiled rule tree."""
    if node is None:
        return []
    if isinstance(node, (AllNode, AnyNode)):
        return [leaf for child in node.children for leaf in leaves(child)]
    if isinstance(node, NotNode):
        return leaves(node.child)
    return [node]


LIST_FACTS = frozenset({"markets", "functions", "radio", "sector_law"})
#: List facts a profile always has (empty when not given): safe to cut by intersection.
ALWAYS_SET = frozenset({"markets", "functions", "sector_law"})


def projection(nodes: Sequence[Node | None]) -> Projection:
    """A function of a profile that keeps exactly what these rules can see.

    Two profiles with equal projections get equal outcomes from every node given, so verdicts
    can be memoised by it: list facts are cut down to the values the rules mention (plus
    emptiness where a rule asks for it), other facts are kept as they are.
    """
    mentioned: dict[str, set[Any]] = {}
    whole: set[str] = set()
    for leaf in (lf for n in nodes for lf in leaves(n)):
        if isinstance(leaf, ListNode):
            mentioned.setdefault("functions", set()).update(
                f for e in leaf.entries for f in e.functions)
        elif isinstance(leaf, FactNode):
            if leaf.path in ALWAYS_SET and leaf.op in ("contains_any", "contains_all"):
                values = leaf.expected if isinstance(leaf.expected, list) else [leaf.expected]
                mentioned.setdefault(leaf.path, set()).update(values)
            else:
                whole.add(leaf.path)
    cut_paths = sorted(mentioned)
    cut_values = [frozenset(mentioned[p]) for p in cut_paths]
    # vehicle.* facts: key on the (frozen, hashable) vehicle itself, which may be None
    kept_paths = sorted({"vehicle" if p.startswith("vehicle.") else p for p in whole})
    get_cut = _tuple_getter(cut_paths)
    get_kept = _tuple_getter(kept_paths)

    def project(facts: Facts) -> Any:
        return tuple(map(frozenset.intersection, cut_values, get_cut(facts))), get_kept(facts)

    return project


def _tuple_getter(paths: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """One C-level call for all attributes (profiles expose facts as attributes)."""
    from operator import attrgetter

    if not paths:
        return lambda facts: ()
    if len(paths) == 1:
        single = attrgetter(paths[0])
        return lambda facts: (single(facts),)
    return attrgetter(*paths)
