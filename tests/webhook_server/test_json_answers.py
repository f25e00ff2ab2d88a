"""The server's JSON answers, encoded by orjson, are the documents Flask's own encoder wrote: the same values, keys
sorted, dates in Flask's HTTP form, and whatever orjson refuses still answered by Flask's encoder."""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import jsonify
from flask.json.provider import DefaultJSONProvider

from consentry.sdk.store import upgrade
from consentry.webhook_server import create_app

from .conftest import relay_config


@dataclass
class _Pair:
    name: str
    day: date


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(url)
    app = create_app({**relay_config(url), "CONNECTORS": []})
    yield app
    app.extensions["consentry"].runtime.close()


def _flask_encoded(app, document) -> bytes:
    """What Flask's own provider writes for `document`, as the server wrote it before orjson."""
    with app.app_context():
        return DefaultJSONProvider(app).response(document).get_data()


DOCUMENTS = [
    {"zeta": 1, "alpha": [1.5, None, True], "mu": {"b": "é", "a": "x"}},
    {"when": datetime(2026, 12, 3, 10, 30, tzinfo=UTC), "day": date(2026, 12, 3), "amount": Decimal("12.50")},
    {"pair": _Pair("Léa", date(2026, 1, 2))},
    {3: "keys that are not strings", 1: "are written as strings"},
    {"big": 2**70},  # beyond orjson's 64-bit integers
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_same_document_as_flasks_encoder(app, document):
    with app.app_context():
        answer = jsonify(document)
    assert answer.mimetype == "application/json"
    assert json.loads(answer.get_data()) == json.loads(_flask_encoded(app, document))


def test_keys_sorted_compact_and_in_utf_8(app):
    with app.app_context():
        body = jsonify({"zeta": "Léa", "alpha": {"b": 2, "a": 1}}).get_data()
    assert body == '{"alpha":{"a":1,"b":2},"zeta":"Léa"}\n'.encode()  # Flask's encoder would write \u00e9


def test_dates_in_flasks_http_form(app):
    with app.app_context():
        document = json.loads(jsonify({"day": date(2026, 12, 3)}).get_data())
    assert document == {"day": "Thu, 03 Dec 2026 00:00:00 GMT"}


def test_what_nothing_can_encode_is_still_a_type_error(app):
    with app.app_context(), pytest.raises(TypeError):
        jsonify({"unknown": object()})


def test_debug_answers_stay_indented(app):
    app.debug = True
    with app.app_context():
        body = jsonify({"b": 1, "a": 2}).get_data()
    assert body == b'{\n  "a": 2,\n  "b": 1\n}\n'
