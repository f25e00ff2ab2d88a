"""One schema for every `CONSENTRY_*` variable and each connector's settings: defaults applied, a wrong or unknown
value named (never shown), secrets refused in the file, and README's configuration table the same as the schema."""

from pathlib import Path

import marshmallow
import pytest

from consentry.sdk.errors import ConfigurationError
from consentry.sdk.settings import (
    VARIABLES,
    SettingsSchema,
    documented_rows,
    load_connector_settings,
    load_settings,
)

README = Path(__file__).resolve().parents[2] / "README.md"
# Rows of the table that are not variables of the schema: a pattern, and prometheus_client's own variable.
NOT_IN_SCHEMA = {"`CONSENTRY_<CONNECTOR>_<SETTING>`", "`PROMETHEUS_MULTIPROC_DIR`"}


def readme_rows() -> dict[str, tuple[str, str]]:
    """The configuration table of README.md: variable cell -> (default, meaning)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and len(cells) == 3 and not set(cells[0]) <= {"-", "|"} and cells[0] != "variable":
            assert cells[0] not in rows, f"{cells[0]} is in the table twice"
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_the_readme_table_lists_every_variable_of_the_schema_and_no_other():
    documented = {name for name in readme_rows() if name not in NOT_IN_SCHEMA}
    declared = {row[0] for row in documented_rows()}
    assert sorted(declared - documented) == [], "in the schema, missing from README"
    assert sorted(documented - declared) == [], "in README, not in the schema"


@pytest.mark.parametrize(("variable", "default", "meaning"), documented_rows(), ids=lambda cell: cell)
def test_the_readme_gives_each_variables_default_and_meaning_as_the_schema_does(variable, default, meaning):
    assert readme_rows()[variable] == (default, meaning)


def test_the_readme_marks_exactly_the_secrets_in_bold():
    secrets = {name for name, item in VARIABLES.items() if item.metadata["secret"]}
    assert secrets == {
        "CONSENTRY_SUPPRESSION_PEPPER",
        "CONSENTRY_SUPPRESSION_OLD_PEPPERS",
        "CONSENTRY_UNSUBSCRIBE_SECRET",
        "CONSENTRY_CONSOLE_SECRET",
        "CONSENTRY_INBOX_KEY",
    }
    bold = {name.strip("*`") for name in readme_rows() if name.startswith("**")}
    assert bold == secrets
    assert all(VARIABLES[name].load_only for name in secrets)  # never dumped


def test_every_variable_has_a_one_line_meaning():
    for name, item in VARIABLES.items():
        assert name.startswith("CONSENTRY_")
        assert name.upper() == name
        assert item.metadata["meaning"], name
        assert "\n" not in item.metadata["meaning"], name


# -- defaults -------------------------------------------------------------------------------------------------------


def test_each_default_is_applied():
    settings = load_settings({})
    assert settings.values == {
        "HOME": ".",
        "DATABASE_URL": "sqlite:///consentry.db",
        "SUPPRESSION_PEPPER": None,
        "SUPPRESSION_PEPPER_ID": "p1",
        "SUPPRESSION_OLD_PEPPERS": {},
        "CONNECTORS": [],
        "CONFIG_FILE": None,
        "UNSUBSCRIBE_SECRET": None,
        "CONSOLE_SECRET": None,
        "ADVERTISER": "default",
        "PUBLIC_URL": None,
        "INBOX_SOCKET": None,
        "INBOX_KEY": None,
        "MAX_CONTENT_LENGTH": 1048576,
        "LEASE_SECONDS": 5,
        "SWEEP_SECONDS": 5,
        "RECONCILE_SECONDS": 3600,
        "MAX_ATTEMPTS": 8,
        "ECHO_WINDOW_SECONDS": 3600,
        "API_RATE_LIMIT": "600/minute",
        "API_KEY_CACHE_SECONDS": 5,
        "API_RATE_STORAGE": "memory://",
    }
    assert set(settings.values) == set(SettingsSchema().fields)
    assert settings.database_url == "sqlite:///consentry.db"
    assert settings.peppers == {}
    assert settings.current_pepper_id == "p1"


def test_the_default_database_lives_in_home_and_an_empty_variable_is_unset(tmp_path):
    environ = {"CONSENTRY_HOME": str(tmp_path), "CONSENTRY_DATABASE_URL": "", "CONSENTRY_ADVERTISER": ""}
    settings = load_settings(environ)
    assert settings.database_url == f"sqlite:///{tmp_path / 'consentry.db'}"
    assert settings.values["ADVERTISER"] == "default"


def test_values_take_their_types_and_overrides_come_last():
    settings = load_settings(
        {"CONSENTRY_MAX_ATTEMPTS": "3", "CONSENTRY_CONNECTORS": " mailchimp, hubspot,,", "CONSENTRY_ADVERTISER": "a"},
        {"ADVERTISER": "b", "LEASE_SECONDS": 2},
    )
    assert settings.values["MAX_ATTEMPTS"] == 3
    assert settings.connectors == ["mailchimp", "hubspot"]
    assert settings.values["ADVERTISER"] == "b"
    assert settings.values["LEASE_SECONDS"] == 2.0
    assert load_settings({}, {"CONNECTORS": ["salesforce"]}).connectors == ["salesforce"]


def test_variables_outside_the_schema_are_left_to_others():
    settings = load_settings({"CONSENTRY_MAILCHIMP_API_KEY": "x", "CONSENTRY_CI": "1", "PATH": "/bin"})
    assert "MAILCHIMP_API_KEY" not in settings.values


def test_peppers_current_and_rotated_out():
    settings = load_settings(
        {
            "CONSENTRY_SUPPRESSION_PEPPER": "n" * 16,
            "CONSENTRY_SUPPRESSION_PEPPER_ID": " p2 ",
            "CONSENTRY_SUPPRESSION_OLD_PEPPERS": "p1:" + "o" * 16 + ", p0:" + "z" * 20,
        }
    )
    assert settings.current_pepper_id == "p2"
    assert settings.pepper == b"n" * 16
    assert settings.peppers == {"p2": b"n" * 16, "p1": b"o" * 16, "p0": b"z" * 20}


def test_without_a_pepper_the_ledger_is_refused_naming_the_variable():
    with pytest.raises(ConfigurationError, match="set CONSENTRY_SUPPRESSION_PEPPER"):
        load_settings({}).pepper  # noqa: B018


# -- wrong and unknown values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://consentry@127.0.0.1/consentry"),
        ("DATABASE_URL", "not a url"),
        ("SUPPRESSION_PEPPER", "short-pepper"),
        ("SUPPRESSION_PEPPER_ID", "   "),
        ("SUPPRESSION_OLD_PEPPERS", "p1-without-a-colon-secret"),
        ("SUPPRESSION_OLD_PEPPERS", "p1:tooshort"),
        ("CONNECTORS", "mailchimp,mailchimp"),
        ("UNSUBSCRIBE_SECRET", "too-short"),
        ("CONSOLE_SECRET", "shorter-than-thirty-two-chars"),
        ("PUBLIC_URL", "ftp://consentry.example.com"),
        ("INBOX_KEY", "short-key"),
        ("MAX_CONTENT_LENGTH", "1023"),
        ("MAX_CONTENT_LENGTH", "a megabyte"),
        ("LEASE_SECONDS", "0.5"),
        ("SWEEP_SECONDS", "inf"),
        ("RECONCILE_SECONDS", "-1"),
        ("MAX_ATTEMPTS", "101"),
        ("ECHO_WINDOW_SECONDS", "nan"),
    ],
)
def test_a_wrong_value_names_the_variable_never_the_value(name, value):
    with pytest.raises(ConfigurationError) as error:
        load_settings({f"CONSENTRY_{name}": value})
    assert str(error.value) == f"invalid setting: CONSENTRY_{name}"


def test_every_wrong_variable_is_named_at_once():
    with pytest.raises(ConfigurationError) as error:
        load_settings({"CONSENTRY_MAX_ATTEMPTS": "0", "CONSENTRY_SWEEP_SECONDS": "x"})
    assert str(error.value) == "invalid setting: CONSENTRY_MAX_ATTEMPTS, CONSENTRY_SWEEP_SECONDS"


def test_an_unknown_setting_given_from_python_is_named():
    with pytest.raises(ConfigurationError) as error:
        load_settings({}, {"MAX_ATTEMPT": 3, "MAX_ATTEMPTS": 0})
    assert str(error.value) == "invalid setting: CONSENTRY_MAX_ATTEMPTS; unknown setting: CONSENTRY_MAX_ATTEMPT"


# -- each connector's settings --------------------------------------------------------------------------------------


class AlphaSchema(marshmallow.Schema):
    class Meta:
        unknown = marshmallow.RAISE

    api_key = marshmallow.fields.String(required=True, load_only=True, metadata={"secret": True})
    list_id = marshmallow.fields.String(load_default=None)
    page_size = marshmallow.fields.Integer(load_default=100, validate=marshmallow.validate.Range(1, 1000))


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "consentry.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_connector_settings_come_from_the_file_then_the_environment(tmp_path):
    file = config_file(tmp_path, "connectors:\n  alpha:\n    list_id: from-file\n    page_size: 10\n")
    environ = {"CONSENTRY_ALPHA_API_KEY": "key", "CONSENTRY_ALPHA_PAGE_SIZE": "20", "CONSENTRY_BETA_X": "other's"}
    settings = load_connector_settings({"alpha": AlphaSchema}, environ=environ, file=file)
    assert settings == {"alpha": {"api_key": "key", "list_id": "from-file", "page_size": "20"}}


def test_a_secret_in_the_file_is_refused_naming_its_variable(tmp_path):
    file = config_file(tmp_path, "connectors:\n  alpha:\n    api_key: in-the-file-0123456789\n")
    with pytest.raises(ConfigurationError) as error:
        load_connector_settings({"alpha": AlphaSchema}, environ={"CONSENTRY_ALPHA_API_KEY": "key"}, file=file)
    assert "secrets belong in the environment" in str(error.value)
    assert "CONSENTRY_ALPHA_API_KEY" in str(error.value)
    assert "in-the-file-0123456789" not in str(error.value)


def test_a_wrong_connector_value_names_its_variable_never_the_value():
    environ = {"CONSENTRY_ALPHA_API_KEY": "key", "CONSENTRY_ALPHA_PAGE_SIZE": "70000"}
    with pytest.raises(ConfigurationError) as error:
        load_connector_settings({"alpha": AlphaSchema}, environ=environ)
    assert str(error.value) == "alpha: invalid configuration (page_size from CONSENTRY_ALPHA_PAGE_SIZE)"


def test_a_missing_connector_setting_names_its_variable():
    with pytest.raises(ConfigurationError) as error:
        load_connector_settings({"alpha": AlphaSchema}, environ={})
    assert str(error.value) == "alpha: invalid configuration (api_key from CONSENTRY_ALPHA_API_KEY)"


def test_a_wrong_value_in_the_file_names_the_file(tmp_path):
    file = config_file(tmp_path, "connectors:\n  alpha:\n    page_size: many\n    lst_id: typo\n")
    with pytest.raises(ConfigurationError) as error:
        load_connector_settings({"alpha": AlphaSchema}, environ={"CONSENTRY_ALPHA_API_KEY": "k"}, file=file)
    assert str(error.value) == (
        "alpha: invalid configuration (lst_id in CONSENTRY_CONFIG_FILE, page_size in CONSENTRY_CONFIG_FILE)"
    )


def test_an_unknown_variable_of_an_enabled_connector_is_named():
    environ = {"CONSENTRY_ALPHA_API_KEY": "key", "CONSENTRY_ALPHA_LIST_IDS": "typo"}
    with pytest.raises(ConfigurationError) as error:
        load_connector_settings({"alpha": AlphaSchema}, environ=environ)
    assert str(error.value) == "alpha: unknown setting CONSENTRY_ALPHA_LIST_IDS"


def test_the_sandboxes_variables_are_not_the_connectors():
    environ = {"CONSENTRY_ALPHA_API_KEY": "key", "CONSENTRY_ALPHA_SANDBOX_TOKEN": "emulator's"}
    assert load_connector_settings({"alpha": AlphaSchema}, environ=environ) == {"alpha": {"api_key": "key"}}


@pytest.mark.parametrize(
    "text",
    ["- a list\n", "connectors: {}\nconnector: {}\n", "connectors: [alpha]\n", "connectors:\n  alpha: [list_id]\n"],
)
def test_a_file_of_another_shape_is_refused_naming_the_variable(tmp_path, text):
    with pytest.raises(ConfigurationError, match="CONSENTRY_CONFIG_FILE"):
        load_connector_settings({"alpha": AlphaSchema}, environ={}, file=config_file(tmp_path, text))


def test_an_unreadable_file_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="CONSENTRY_CONFIG_FILE: cannot read the file"):
        load_connector_settings({"alpha": AlphaSchema}, environ={}, file=tmp_path / "nowhere.yaml")
    with pytest.raises(ConfigurationError, match="CONSENTRY_CONFIG_FILE: cannot read the file"):
        load_connector_settings({}, environ={}, file=config_file(tmp_path, "connectors: [\n"))
