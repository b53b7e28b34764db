"""What a profile change would change in the verdicts: per instrument, the status, class,
assessment route and start date from → to, and the obligations and requirements that come or
go. Pure: it compares two ``Check.to_dict()`` results, so every face (the web's edit review, the
CLI's ``product edit``, the API) shows the same diff before a profile is saved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The verdict's scalar fields a user decides on, with the word shown for each.
FIELDS = (("status", "status"), ("category", "class"), ("assessment", "assessment route"),
          ("applies_from", "applies from"))


def diff_checks(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The instruments whose verdict changes, in the knowledge base's order; an instrument
    with no change is left out (an empty list: the edit changes no verdict)."""
    old = {r["regulation"]: r for r in before.get("results", [])}
    new = {r["regulation"]: r for r in after.get("results", [])}
    order = [r["regulation"] for r in after.get("results", [])]
    order += [r for r in old if r not in new]
    changes = [_instrument(old.get(reg), new.get(reg)) for reg in order]
    return [c for c in changes if c["fields"] or any(
        c[key]["added"] or c[key]["removed"] for key in ("obligations", "requirements"))]


def _instrument(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    either = new or old or {}
    fields = [{"field": word, "from": (old or {}).get(key), "to": (new or {}).get(key)}
              for key, word in FIELDS if (old or {}).get(key) != (new or {}).get(key)]
    return {"regulation": either.get("regulation"), "title": either.get("title"),
            "fields": fields, "obligations": _added_removed(
                _titles(old, "obligations"), _titles(new, "obligations")),
            "requirements": _added_removed(_requirements(old), _requirements(new))}


def _titles(verdict: dict[str, Any] | None, key: str) -> dict[str, str]:
    return {o["id"]: o["title"] for o in (verdict or {}).get(key, [])}


def _requirements(verdict: dict[str, Any] | None) -> dict[str, str]:
    groups: dict[str, list[str]] = (verdict or {}).get("requirements", {})
    return {rid: category for category, ids in groups.items() for rid in ids}


def _added_removed(old: dict[str, str], new: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """Ids that come and go, each with its label (an obligation's title, a requirement's
    category); empty lists when nothing changes."""
    return {"added": [{"id": k, "label": new[k]} for k in new if k not in old],
            "removed": [{"id": k, "label": old[k]} for k in old if k not in new]}
