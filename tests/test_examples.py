"""Every example runs and prints what its docstring promises."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
EXPECTED = {
    "when_may_we_call.py": "next lawful call: 2026-08-11 14:00:00+02:00",
    "check_a_list_before_a_campaign.py": "4 contacts checked, 0 with errors",
    "build_an_unsubscribe_link.py": "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    "add_a_connector.py": "opted_out=frozenset({'email'})",
    "dialer_precall.py": "next day: forbidden",
    "web_form_consent.py": "double submit answered the same: True",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_leaves_no_temporary_file(name, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLES.parent,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert EXPECTED[name] in result.stdout
    assert list(temporary.iterdir()) == []


def test_every_example_is_listed():
    assert {path.name for path in EXAMPLES.glob("*.py")} == set(EXPECTED)
