"""Which answers of a product profile an edit changes: each field from → to, in words, so that a
review of the edit says what the user changed before it says what that does to the verdicts
(``verdict_diff``). Pure: it compares two raw v1 profiles (as stored, as validated), so every
face shows the same list.

A fact left out of a profile is unknown, and shows as such; a list shows its added and removed
entries as well, because "EU, GB, US → EU, SG, US" hides the one that moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The answer's value when the profile does not state it.
UNKNOWN = "unknown"


def diff_profiles(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The answers that differ, in the order of the fields of ``after`` then those only in
    ``before``; each ``{field, label, from, to, added, removed}`` (``added``/``removed`` are
    empty for a single value). The profile's ``format`` is not an answer and is left out."""
    old, new = _flat(before), _flat(after)
    fields = [*new, *(k for k in old if k not in new)]
    return [_change(field, old.get(field), new.get(field)) for field in fields
            if _normal(old.get(field)) != _normal(new.get(field))]


def _flat(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The answers by field; the vehicle's facts as ``vehicle.<fact>``."""
    out: dict[str, Any] = {}
    for key, value in profile.items():
        if key == "format":
            continue
        if key == "vehicle" and isinstance(value, Mapping):
            out |= {f"vehicle.{k}": v for k, v in value.items()}
        else:
            out[key] = value
    return out


def _normal(value: Any) -> Any:
    """Equal answers compare equal: a list is a set of entries, and unknown is None."""
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    return value


def _change(field: str, old: Any, new: Any) -> dict[str, Any]:
    listed = isinstance(old, list | tuple) or isinstance(new, list | tuple)
    before = [str(v) for v in old or ()] if listed else []
    after = [str(v) for v in new or ()] if listed else []
    return {"field": field, "label": label(field), "from": shown(old), "to": shown(new),
            "added": [v for v in after if v not in before],
            "removed": [v for v in before if v not in after]}


def label(field: str) -> str:
    """A field's name in words: ``software_only`` → "software only", ``vehicle.ecus`` →
    "vehicle: ecus"."""
    return field.replace(".", ": ").replace("_", " ")


def shown(value: Any) -> str:
    """An answer as the review prints it: yes/no, a comma-separated list ("none" when empty),
    or "unknown" when the profile does not state it."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)
