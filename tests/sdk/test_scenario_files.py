"""Every scenario file in tests/data passes: the worked examples, and the cases written apart from them from the
rule table alone (a second and a third reader's, the team's unseen ones), so that the engine is held to the rules
rather than to the examples it was built on."""

from pathlib import Path

import pytest

from consentry.sdk import load_scenarios, run_scenarios

DATA = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda path: path.name)
def test_every_scenario_of_the_file_passes(path):
    results = list(run_scenarios(load_scenarios(path)))
    failed = [result.scenario.id for result in results if not result.passed]
    assert len(results) >= 40  # each file holds dozens: fewer would mean a truncated or misread file
    assert failed == []
