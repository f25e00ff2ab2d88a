"""The distribution: one import package, `consentry`, that nothing in a user's project can shadow or overwrite."""

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.processes import run_group

ROOT = Path(__file__).parents[1]
FOLDERS = {"consentry.sdk": "sdk", "consentry.connectors": "connectors", "consentry.webhook_server": "webhook_server"}


def test_the_package_list_names_every_folder_with_an_init():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert settings["package-dir"] == FOLDERS
    found = {
        package + "".join(f".{part}" for part in init.parent.relative_to(ROOT / folder).parts)
        for package, folder in FOLDERS.items()
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(settings["packages"]) == found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the sources: a build in place leaves build/ and *.egg-info in the repository."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in FOLDERS.values():
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)]
    built = run_group(command, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    [built] = out.glob("consentry-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_the_consentry_package_and_nothing_else_at_its_top(wheel):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {top for top in tops if not top.endswith(".dist-info")} == {"consentry"}
    for needed in ("consentry/sdk/rules/data/reasons.yaml", "consentry/webhook_server/templates/unsubscribe.html"):
        assert needed in names
    assert any(name.startswith("consentry/sdk/store/migrations/versions/") for name in names)


@pytest.mark.slow
@pytest.mark.integration
def test_the_installed_wheel_works_beside_a_users_own_sdk_package(wheel, tmp_path):
    """A user's project with its own `sdk/` and `connectors/` packages: before, they shadowed ours and `consentry
    demo` failed. The fresh environment borrows the test environment's dependencies (no download), not its
    editable Consentry."""
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)

    project = tmp_path / "project"
    for name in ("sdk", "connectors", "webhook_server"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text("raise ImportError('the user package, not Consentry')\n")
    scenarios = project / "cases.yaml"
    scenarios.write_text((ROOT / "tests" / "data" / "scenarios.yaml").read_text())
    consentry = str(fresh / "bin" / "consentry")
    rules = run_group([consentry, "rules", "test", "cases.yaml"], cwd=project, timeout=300)
    assert rules.returncode == 0, rules.stderr[-2000:]
    assert " 0 failed" in rules.stdout
    demo = run_group(
        [consentry, "demo", "--people", "200", "--home", str(tmp_path / "demo")],
        cwd=project,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert (tmp_path / "demo" / "report.html").exists()
