"""The product wizard's questions: one plain-language question per profile field, each with the
reason it matters and where that reason comes from. Data, so the wizard and its tests share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class Question:
    field: str
    text: str
    help: str
    citation: str
    kind: str  # text | yesno | markets | choices | vehicle
    choices: tuple[tuple[str, str], ...] = dc_field(default=())
    required: bool = False


COMMON_MARKETS = (("EU", "European Union (all member states)"), ("DE", "Germany"), ("FR", "France"),
                  ("FI", "Finland"), ("GB", "United Kingdom"), ("US", "United States"),
                  ("SG", "Singapore"), ("JP", "Japan"))


def questions(vocabulary: Mapping[str, Any]) -> list[Question]:
    functions = tuple((f["id"], f["text"]) for f in vocabulary["functions"])
    sector = tuple((f["id"], f["text"]) for f in vocabulary["sector_law"])
    radio = tuple((r, r) for r in vocabulary["radio"])
    return [
        Question("name", "What is the product called?",
                 "The name it is placed on the market under; documents and reports use it.",
                 "CRA Annex V point 1", "text", required=True),
        Question("manufacturer", "Who places it on the market under their name or trademark?",
                 "That company is the manufacturer and carries the obligations.",
                 "CRA Art. 3(13)", "text"),
        Question("markets", "Where will it be sold?",
                 "Each regime covers its own market: the EU (CRA, RED), Great Britain (PSTI), the "
                 "US, Singapore and others (labels). A member state counts as the EU.",
                 "CRA Art. 2(1); PSTI Act s. 4", "markets", COMMON_MARKETS, required=True),
        Question("software_only", "Is it software only, with no hardware of its own?",
                 "Apps and stand-alone software are products with digital elements under the CRA, "
                 "but not connectable products under PSTI or radio equipment under RED.",
                 "CRA Art. 3(1)", "yesno"),
        Question("data_connection", "Does it connect to a device or network, directly or indirectly?",
                 "The CRA applies to products whose intended or foreseeable use includes a logical "
                 "or physical data connection.", "CRA Art. 2(1)", "yesno"),
        Question("internet", "Can it communicate over the internet, itself or through other equipment?",
                 "Internet-connected radio equipment falls under the RED delegated act; PSTI covers "
                 "internet- and network-connectable consumer products.",
                 "Delegated Regulation (EU) 2022/30 Art. 1; PSTI Act s. 5", "yesno"),
        Question("radio", "Which radio technologies does it transmit with?",
                 "Radio equipment is in scope of the Radio Equipment Directive and its delegated act.",
                 "Directive 2014/53/EU Art. 2(1)(1)", "choices", radio),
        Question("consumer", "Is it sold to consumers, or likely to be used by them?",
                 "PSTI and the IoT labels cover consumer products.", "PSTI Act s. 4(2)", "yesno"),
        Question("personal_data", "Does it process personal, traffic or location data?",
                 "Triggers the RED essential requirement on personal data and privacy.",
                 "Directive 2014/53/EU Art. 3(3)(e)", "yesno"),
        Question("money_transfer", "Can users transfer money, monetary value or virtual currency with it?",
                 "Triggers the RED essential requirement on protection from fraud.",
                 "Directive 2014/53/EU Art. 3(3)(f)", "yesno"),
        Question("commercial", "Is it made available in the course of a commercial activity?",
                 "Free software developed outside any commercial activity is outside the CRA.",
                 "CRA recitals 15-19", "yesno"),
        Question("open_source", "Is it free and open-source software?",
                 "Open-source products in Annex III may use self-assessment if their technical "
                 "documentation is public.", "CRA Art. 32(5)", "yesno"),
        Question("remote_service_only", "Is it a service (e.g. SaaS) that is not the remote data processing of a product?",
                 "Such services are outside the CRA (NIS2 covers them); the CISA pledge addresses them.",
                 "CRA recital 12", "yesno"),
        Question("functions", "What is it, or what does it do?",
                 "The CRA's important (Annex III) and critical (Annex IV) categories decide the "
                 "conformity assessment route; other regimes name toys, wearables and so on.",
                 "CRA Art. 7, 8, 32; Annexes III and IV", "choices", functions),
        Question("sector_law", "Is it covered by other product law?",
                 "Medical devices, vehicles, aviation and marine equipment are excluded from the "
                 "CRA and partly from RED and PSTI.", "CRA Art. 2(2)-(7)", "choices", sector),
        Question("vehicle", "Is it a road vehicle?",
                 "UN Regulations 155 and 156 apply to vehicle types with electronic control units "
                 "and software updates.", "UN R155 para. 1; UN R156 para. 1", "vehicle",
                 tuple((c, c) for c in vocabulary["vehicle_categories"])),
    ]


def profile_from_form(form: Mapping[str, Any], getlist: Any) -> dict[str, Any]:
    """A raw v1 profile from the wizard's form fields ('' and 'unknown' leave a fact unknown)."""
    raw: dict[str, Any] = {}
    for key in ("name", "manufacturer", "description"):
        value = str(form.get(key) or "").strip()
        if value:
            raw[key] = value
    markets = [m for m in getlist("markets") if m]
    extra = str(form.get("markets_other") or "")
    markets += [m.strip().upper() for m in extra.replace(";", ",").split(",") if m.strip()]
    raw["markets"] = list(dict.fromkeys(markets))
    for key in ("software_only", "data_connection", "internet", "consumer", "personal_data",
                "money_transfer", "commercial", "open_source", "remote_service_only"):
        answer = form.get(key)
        if answer in ("yes", "no"):
            raw[key] = answer == "yes"
    if form.get("radio_answered"):
        raw["radio"] = [r for r in getlist("radio") if r]
    raw["functions"] = [f for f in getlist("functions") if f]
    raw["sector_law"] = [s for s in getlist("sector_law") if s]
    category = form.get("vehicle_category")
    if category:
        vehicle: dict[str, Any] = {"category": category}
        for key in ("ecus", "software_updates", "designed_to_pedal"):
            if form.get(f"vehicle_{key}") in ("yes", "no"):
                vehicle[key] = form.get(f"vehicle_{key}") == "yes"
        level = str(form.get("vehicle_automated_driving_level") or "")
        if level.isdigit():
            vehicle["automated_driving_level"] = int(level)
        raw["vehicle"] = vehicle
    return raw


def form_from_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The wizard's form values for a stored profile (the inverse of ``profile_from_form``), so
    editing a product starts from its answers: markets outside the wizard's boxes go to
    "other markets", a fact left unknown stays "Don't know"."""
    boxes = {code for code, _label in COMMON_MARKETS}
    markets = list(profile.get("markets") or [])
    form: dict[str, Any] = {key: profile[key] for key in ("name", "manufacturer", "description")
                            if profile.get(key)}
    form |= {"markets": [m for m in markets if m in boxes],
             "markets_other": ", ".join(m for m in markets if m not in boxes),
             "radio": list(profile.get("radio") or []),
             "functions": list(profile.get("functions") or []),
             "sector_law": list(profile.get("sector_law") or [])}
    for key, value in profile.items():
        if isinstance(value, bool):
            form[key] = "yes" if value else "no"
    vehicle: Mapping[str, Any] = profile.get("vehicle") or {}
    if vehicle.get("category"):
        form["vehicle_category"] = vehicle["category"]
        for key in ("ecus", "software_updates", "designed_to_pedal"):
            if isinstance(vehicle.get(key), bool):
                form[f"vehicle_{key}"] = "yes" if vehicle[key] else "no"
        if vehicle.get("automated_driving_level") is not None:
            form["vehicle_automated_driving_level"] = str(vehicle["automated_driving_level"])
    return form
