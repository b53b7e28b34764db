"""The product profile, format v1: the facts about a product that decide which regimes apply.

Validation is hand-written rather than pydantic for one reason: ``prodsec check`` must start in
a few tens of milliseconds and pydantic's import alone costs ~100 ms. The published JSON Schema
(``schemas/profile-v1.schema.json``) describes the same format; a property-based test holds the
two to the same verdicts.

Every problem is reported with its field path, what was expected and, for closed vocabularies,
the nearest valid values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from prodsec.core import limits
from prodsec.core.record import Record
from prodsec.errors import InputError, suggest

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1

BOOL_FIELDS: dict[str, bool | None] = {
    # field: default (None = no default: a missing value is an unknown fact)
    "software_only": False,
    "data_connection": None,
    "internet": None,
    "consumer": None,
    "personal_data": None,
    "money_transfer": False,
    "commercial": True,
    "open_source": False,
    "remote_service_only": False,
    # CRA Art. 2(6): a spare part made available to replace an identical component, made to
    # the same specifications. Default false: most products are not such spare parts.
    "identical_spare_part": False,
}
TEXT_FIELDS = ("name", "manufacturer", "description")
#: How long each text may be: the workspace's bounds (``core/limits.py``), applied here so that
#: ``check``, the API and the web refuse what ``product add`` would refuse.
TEXT_LIMITS = {"name": limits.NAME, "manufacturer": limits.NAME, "description": limits.TEXT}
LIST_FIELDS = ("markets", "radio", "functions", "sector_law")
VEHICLE_FIELDS = ("category", "ecus", "software_updates", "automated_driving_level",
                  "designed_to_pedal")
KNOWN_FIELDS = (*TEXT_FIELDS, *BOOL_FIELDS, *LIST_FIELDS, "vehicle", "format")
REQUIRED = ("name", "markets")


class FieldProblem(Record):
    """One invalid field of a profile."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ProfileError(InputError):
    """A profile is invalid; ``problems`` lists every field that is wrong."""

    slug = "invalid-profile"

    def __init__(self, source: str, problems: Sequence[FieldProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        detail = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: invalid product profile:\n{detail}")


class Vehicle(Record):
    category: str | None = None
    ecus: bool | None = None
    software_updates: bool | None = None
    automated_driving_level: int | None = None
    #: An L1e vehicle designed to pedal (Reg. (EU) No 168/2013 Art. 3(94)(b)): left out of the
    #: CRA exclusion of Delegated Reg. (EU) 2025/1535 and of R155 via Delegated Reg. (EU)
    #: 2025/1455. No default: for an L1e vehicle an unknown answer leaves the CRA undetermined.
    designed_to_pedal: bool | None = None


class Profile(Record):
    """A validated, normalised product profile.

    ``markets`` holds the normalised codes plus the groups they imply (``DE`` ⇒ ``EU``);
    ``functions`` holds the declared functions plus their implications (``baby_monitor`` ⇒
    ``childcare``). ``declared_*`` keep what the user wrote, for display and round-trips.
    A boolean left out without a default is ``None``: an unknown fact.
    """

    name: str
    markets: frozenset[str]
    declared_markets: tuple[str, ...]
    manufacturer: str | None = None
    description: str | None = None
    software_only: bool | None = False
    data_connection: bool | None = None
    internet: bool | None = None
    radio: tuple[str, ...] | None = None
    consumer: bool | None = None
    personal_data: bool | None = None
    money_transfer: bool | None = False
    commercial: bool | None = True
    open_source: bool | None = False
    remote_service_only: bool | None = False
    identical_spare_part: bool | None = False
    functions: frozenset[str] = frozenset()
    declared_functions: tuple[str, ...] = ()
    sector_law: frozenset[str] = frozenset()
    vehicle: Vehicle | None = None

    def fact(self, path: str) -> Any:
        """The value of a dotted fact path, or ``None`` when it is unknown."""
        if path.startswith("vehicle."):
            return None if self.vehicle is None else getattr(self.vehicle, path[8:])
        return getattr(self, path)

    def to_dict(self) -> dict[str, Any]:
        """The profile as the user would write it (format v1), defaults made explicit."""
        out: dict[str, Any] = {"name": self.name}
        for key in ("manufacturer", "description"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["markets"] = list(self.declared_markets)
        for key in BOOL_FIELDS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.radio is not None:
            out["radio"] = list(self.radio)
        out["functions"] = list(self.declared_functions)
        out["sector_law"] = sorted(self.sector_law)
        if self.vehicle is not None:
            out["vehicle"] = {
                k: getattr(self.vehicle, k)
                for k in VEHICLE_FIELDS
                if getattr(self.vehicle, k) is not None
            }
        return out


class Vocabulary(Record):
    """The closed vocabularies a profile is checked against (from ``vocabulary.yaml``)."""

    functions: Mapping[str, tuple[str, ...]]  # function → what it implies
    radio: frozenset[str]
    sector_law: frozenset[str]
    vehicle_categories: frozenset[str]
    countries: frozenset[str]
    market_groups: Mapping[str, frozenset[str]]
    market_aliases: Mapping[str, str]
    #: Function ids no longer accepted → the message naming their successors.
    retired_functions: Mapping[str, str] = {}
    #: Other spellings of vehicle categories (EU ``L3e``) → the category (``L3``).
    vehicle_category_aliases: Mapping[str, str] = {}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Vocabulary:
        return cls(
            functions={f["id"]: tuple(f["implies"]) for f in data["functions"]},
            radio=frozenset(data["radio"]),
            sector_law=frozenset(f["id"] for f in data["sector_law"]),
            vehicle_categories=frozenset(data["vehicle_categories"]),
            countries=frozenset(data["countries"]) | frozenset(data.get("subdivisions") or ()),
            market_groups={k: frozenset(v) for k, v in data["market_groups"].items()},
            market_aliases=dict(data["market_aliases"]),
            retired_functions=dict(data.get("retired_functions") or {}),
            vehicle_category_aliases=dict(data.get("vehicle_category_aliases") or {}),
        )

    def closure(self, functions: Sequence[str]) -> frozenset[str]:
        """The functions plus everything they imply, transitively."""
        seen: set[str] = set()
        todo = list(functions)
        while todo:
            fn = todo.pop()
            if fn not in seen:
                seen.add(fn)
                todo.extend(self.functions.get(fn, ()))
        return frozenset(seen)


def parse_profile(raw: Any, vocabulary: Vocabulary, source: str = "profile") -> Profile:
    """Validate raw data (parsed YAML/JSON) into a ``Profile``; raise ``ProfileError``."""
    problems: list[FieldProblem] = []
    if not isinstance(raw, Mapping):
        raise ProfileError(source, [FieldProblem("(document)", "expected a mapping of fields")])
    _unknown_fields(raw, problems)
    fmt = raw.get("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        problems.append(FieldProblem("format", f"expected {FORMAT_VERSION}, got {_shown(fmt)}"))
    values: dict[str, Any] = {}
    for key in REQUIRED:
        if raw.get(key) is None:
            problems.append(FieldProblem(key, "missing (required)"))
    for key in TEXT_FIELDS:
        values[key] = _text(raw, key, problems)
    for key, default in BOOL_FIELDS.items():
        values[key] = _bool(raw, key, default, problems)
    markets = _markets(raw, vocabulary, problems)
    radio = _closed_list(raw, "radio", vocabulary.radio, problems, default=None)
    functions = _closed_list(raw, "functions", vocabulary.functions.keys(), problems, default=(),
                             retired=vocabulary.retired_functions)
    sector_law = _closed_list(raw, "sector_law", vocabulary.sector_law, problems, default=())
    vehicle = _vehicle(raw.get("vehicle"), vocabulary, problems)
    if problems:
        raise ProfileError(source, problems)
    declared_markets, market_set = markets
    return Profile(
        name=values["name"],
        manufacturer=values["manufacturer"],
        description=values["description"],
        markets=market_set,
        declared_markets=declared_markets,
        radio=radio,
        functions=vocabulary.closure(functions or ()),
        declared_functions=tuple(functions or ()),
        sector_law=frozenset(sector_law or ()),
        vehicle=vehicle,
        **{k: values[k] for k in BOOL_FIELDS},
    )


def _unknown_fields(raw: Mapping[str, Any], problems: list[FieldProblem]) -> None:
    for key in raw:
        if key not in KNOWN_FIELDS:
            hint = suggest(str(key), KNOWN_FIELDS)
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            problems.append(FieldProblem(str(key), f"unknown field{extra}"))


def _shown(value: Any) -> str:
    """A value as a message quotes it: ``repr``, cut at 80 characters (an integer of more than
    4 300 digits has no ``repr`` at all: Python refuses to convert it)."""
    try:
        text = repr(value)
    except ValueError:
        return f"a number of {value.bit_length()} bits" if isinstance(value, int) else "a value"
    return text if len(text) <= 80 else f"{text[:77]}..."


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(raw: Mapping[str, Any], key: str, problems: list[FieldProblem]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(FieldProblem(key, f"expected a non-empty text, got {_type_name(value)}"))
        return None
    too_long = limits.problem(value, TEXT_LIMITS[key])
    if too_long:
        problems.append(FieldProblem(key, too_long))
        return None
    return value.strip()


def _bool(
    raw: Mapping[str, Any], key: str, default: bool | None, problems: list[FieldProblem]
) -> bool | None:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(FieldProblem(key, f"expected true or false, got {_shown(value)}"))
        return None
    return value


def _list(raw: Mapping[str, Any], key: str, problems: list[FieldProblem]) -> list[str] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append(FieldProblem(key, f"expected a list, got {_type_name(value)}"))
        return None
    bad = [i for i, v in enumerate(value) if not isinstance(v, str)]
    for i in bad:
        problems.append(FieldProblem(f"{key}[{i}]", f"expected a text, got {_shown(value[i])}"
                                     + _yaml_boolean_hint(key, value[i])))
    return None if bad else list(value)


def _closed_list(
    raw: Mapping[str, Any],
    key: str,
    allowed: Any,
    problems: list[FieldProblem],
    default: tuple[str, ...] | None,
    retired: Mapping[str, str] | None = None,
) -> tuple[str, ...] | None:
    items = _list(raw, key, problems)
    if items is None:
        return default
    allowed = set(allowed)
    for i, item in enumerate(items):
        if retired and item in retired:
            problems.append(FieldProblem(f"{key}[{i}]", f"{_shown(item)} is {retired[item]}"))
        elif item not in allowed:
            hint = suggest(item, sorted(allowed))
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            problems.append(FieldProblem(f"{key}[{i}]", f"unknown value {_shown(item)}{extra}"))
    return tuple(dict.fromkeys(items))


def _yaml_boolean_hint(key: str, value: Any) -> str:
    """YAML 1.1 reads an unquoted NO (Norway) as false: say so, and how to fix it."""
    if key == "markets" and isinstance(value, bool):
        return ("; YAML reads an unquoted NO (Norway) as false"
                + (" (and Y, YES, ON as true)" if value else "") + ": quote the code, e.g. 'NO'")
    return ""


_CODE = re.compile(r"^[A-Za-z]{2}$")


def _markets(
    raw: Mapping[str, Any], vocabulary: Vocabulary, problems: list[FieldProblem]
) -> tuple[tuple[str, ...], frozenset[str]]:
    items = _list(raw, "markets", problems) or []
    if isinstance(raw.get("markets"), list) and not raw["markets"]:
        problems.append(FieldProblem("markets", "expected at least one market"))
    known = vocabulary.countries | vocabulary.market_groups.keys()
    normalised: list[str] = []
    for i, item in enumerate(items):
        code = item.upper() if item.isupper() or item.islower() else item
        code = vocabulary.market_aliases.get(code, code)
        if code not in known:
            hint = suggest(code, sorted(known)) if _CODE.match(code) else []
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            problems.append(FieldProblem(
                f"markets[{i}]",
                f"unknown market {_shown(item)}: expected an ISO 3166-1 alpha-2 code, EU, or GB-NIR/XI "
                f"(Northern Ireland) or GB-GBN (Great Britain){extra}"))
        normalised.append(code)
    implied = set(normalised)
    for group, members in vocabulary.market_groups.items():
        if group in implied:
            implied |= members  # sold in the whole Union: offered in each member state
        elif implied & members:
            implied.add(group)
    return tuple(dict.fromkeys(normalised)), frozenset(implied)


def _vehicle_category(
    category: Any, vocabulary: Vocabulary, problems: list[FieldProblem]
) -> str | None:
    """The UNECE category; EU spellings (``L3e``, any case) are read as their UNECE category."""
    if category is None:
        return None
    if not isinstance(category, str):  # a list is unhashable: no lookup, no suggestion
        problems.append(FieldProblem(
            "vehicle.category", f"expected a text, got {_type_name(category)}"))
        return None
    if isinstance(category, str):
        aliases = {k.lower(): v for k, v in vocabulary.vehicle_category_aliases.items()}
        known = {c.lower(): c for c in vocabulary.vehicle_categories}
        found = known.get(category.lower()) or aliases.get(category.lower())
        if found is not None:
            return found
    accepted = sorted(vocabulary.vehicle_categories | set(vocabulary.vehicle_category_aliases))
    hint = suggest(str(category), accepted)
    extra = f"; did you mean {', '.join(hint)}?" if hint else ""
    problems.append(FieldProblem(
        "vehicle.category",
        f"unknown vehicle category {_shown(category)}{extra} (accepted: {', '.join(accepted)})"))
    return None


def _vehicle(value: Any, vocabulary: Vocabulary, problems: list[FieldProblem]) -> Vehicle | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(FieldProblem("vehicle", f"expected a mapping, got {_type_name(value)}"))
        return None
    for key in value:
        if key not in VEHICLE_FIELDS:
            hint = suggest(str(key), VEHICLE_FIELDS)
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            problems.append(FieldProblem(f"vehicle.{key}", f"unknown field{extra}"))
    category = _vehicle_category(value.get("category"), vocabulary, problems)
    flags: dict[str, bool | None] = {}
    for key in ("ecus", "software_updates", "designed_to_pedal"):
        flags[key] = _bool(value, key, None, [])
        if value.get(key) is not None and not isinstance(value.get(key), bool):
            problems.append(FieldProblem(f"vehicle.{key}", f"expected true or false, got {_shown(value[key])}"))
    level = value.get("automated_driving_level")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int)
                              or not 0 <= level <= 5):
        problems.append(FieldProblem(
            "vehicle.automated_driving_level", f"expected a whole number 0-5, got {_shown(level)}"))
        level = None
    if flags["designed_to_pedal"] is True and category is not None and category != "L1":
        problems.append(FieldProblem(
            "vehicle.designed_to_pedal",
            f"applies to L1e (L1) vehicles only (Reg. (EU) No 168/2013 Art. 3(94)(b)); the "
            f"category is {category}"))
    return Vehicle(category=category, ecus=flags["ecus"],
                   software_updates=flags["software_updates"], automated_driving_level=level,
                   designed_to_pedal=flags["designed_to_pedal"])
