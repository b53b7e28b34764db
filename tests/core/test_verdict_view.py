"""One verdict type: what the engine emits is exactly ``core.verdict_view`` (every key, no
other), and the API's check answer is built from the same types."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prodsec.core.applicability import Engine
from prodsec.core.profile import parse_profile
from prodsec.core.verdict_view import CheckView, ObligationView, ReasonView, VerdictView

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "products"


def _keys(view: Any) -> tuple[set[str], set[str]]:
    return set(view.__required_keys__), set(view.__optional_keys__)


def _fits(value: dict[str, Any], view: Any) -> None:
    required, optional = _keys(view)
    assert required <= set(value) <= required | optional, (view.__name__, set(value) ^ required)


def test_every_example_check_is_exactly_the_view(engine: Engine, kb: Any) -> None:
    import yaml

    seen_optional = False
    for path in sorted(EXAMPLES.glob("*.yaml")):
        profile = parse_profile(yaml.safe_load(path.read_text()), kb.vocabulary, str(path))
        check = engine.check(profile, dt.date(2026, 12, 3)).to_dict()
        _fits(dict(check), CheckView)
        for verdict in check["results"]:
            _fits(dict(verdict), VerdictView)
            for reason in verdict["reasons"]:
                _fits(dict(reason), ReasonView)
                seen_optional |= "decisive" in reason
            for obligation in verdict["obligations"]:
                _fits(dict(obligation), ObligationView)
    assert seen_optional, "some example folds a reason as 'also checked'"


def test_the_api_answers_with_the_same_type() -> None:
    from prodsec.api.schemas import CheckResult

    schema = CheckResult.model_json_schema()
    verdict = schema["$defs"]["VerdictView"]
    assert set(verdict["properties"]) == set(VerdictView.__annotations__)
    assert "Verdict" not in schema["$defs"], "no second verdict model"
