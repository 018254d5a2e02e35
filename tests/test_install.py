"""Installed as users install it: the wheel's contents, `--version`, `plugins --json`, and the shipped quickstart
config that `nas-harness run quickstart` finds from any folder (CI runs the whole quickstart from the wheel)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import pytest

import nas_harness
from nas_harness import cli
from nas_harness import registry as registry_module
from nas_harness.api import ConfigError
from nas_harness.config import (
    DEFAULT_CONFIG,
    config_source,
    is_config_name,
    load_config,
    resolve_config,
    shipped_config_names,
    shipped_configs_dir,
)
from nas_harness.registry import KINDS
from tests.helpers.entry_points import write_dist_info

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
QUICKSTART = ROOT / "harness" / "configs" / "quickstart.toml"


# -- the wheel ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a clean copy of the checkout (no stale build/ folder can leak into it), without build
    isolation (no index needed): with this environment's setuptools, which the test extra brings."""
    needed = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools>="))
    have = metadata.version("setuptools")
    if int(have.split(".")[0]) < int(needed.removeprefix("setuptools>=")):
        pytest.fail(f"building the wheel needs {needed} (have {have}): pip install -e '.[test]'")
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in SETUPTOOLS["package-dir"].values():
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    for name in ("pyproject.toml", PYPROJECT["project"]["readme"]):
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, src],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("nas_harness-*.whl")
    with zipfile.ZipFile(path) as whl:
        yield whl


def test_the_wheel_ships_the_quickstart_config_under_the_import_names_only(wheel):
    names = set(wheel.namelist())
    assert "nas_harness/configs/quickstart.toml" in names and "nas_harness/configs/__init__.py" in names
    assert wheel.read("nas_harness/configs/quickstart.toml") == QUICKSTART.read_bytes()
    assert "nas_harness/embedded/nb201_digits.csv" in names
    tops = {name.split("/")[0] for name in names}
    version = PYPROJECT["project"]["version"]
    assert tops == {"nas_harness", "nas_harness_plugins", f"nas_harness-{version}.dist-info"}, tops
    assert not [n for n in names if n.startswith(("harness/", "plugins/"))]


def test_the_wheel_holds_every_module_and_data_file_of_the_checkout(wheel):
    names = set(wheel.namelist())
    data = SETUPTOOLS["package-data"]
    missing = []
    for import_name, folder in SETUPTOOLS["package-dir"].items():
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT / folder)
            package = ".".join((import_name, *rel.parent.parts))
            if path.suffix == ".py" or any(fnmatch(path.name, pat) for pat in data.get(package, ())):
                wanted = "/".join((import_name, *rel.parts))
                if wanted not in names:
                    missing.append(wanted)
    assert missing == []


def test_the_wheel_declares_the_console_script_and_the_builtin_plugins(wheel):
    version = PYPROJECT["project"]["version"]
    entry_points = wheel.read(f"nas_harness-{version}.dist-info/entry_points.txt").decode()
    assert "nas-harness = nas_harness.cli:main" in entry_points
    for name, module in PYPROJECT["project"]["entry-points"]["nas_harness"].items():
        assert f"{name} = {module}" in entry_points


# -- --version ---------------------------------------------------------------------------------------------------------
def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    version = PYPROJECT["project"]["version"]
    assert capsys.readouterr().out == f"nas-harness {version}\n"
    assert metadata.version("nas-harness") == nas_harness.__version__ == version  # the three agree


def test_version_falls_back_to_the_package_attribute_when_not_installed(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cli.metadata, "version", not_installed)
    assert cli.version() == nas_harness.__version__


def test_the_console_script_prints_the_version_from_any_folder(tmp_path):
    script = shutil.which("nas-harness") or str(Path(sys.executable).with_name("nas-harness"))
    done = subprocess.run([script, "--version"], cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"nas-harness {nas_harness.__version__}\n"), done.stderr


# -- plugins --json ----------------------------------------------------------------------------------------------------
def _render(report: dict) -> str:
    """The text listing, rebuilt from the JSON: both must say the same."""
    lines = [] if report["plugins"] else ["no plugins found in entry-point group 'nas_harness'"]
    for p in report["plugins"]:
        lines.append(f"{p['name']}{' ' + p['version'] if p['version'] else ''}  ({p['source']})")
        lines += [f"    {kind}: {item}" for kind, items in p["registered"].items() for item in items]
        lines += [
            f"    golden value: {g['estimator']} on {g['benchmark']}: tau {g['tau']:.3f} +- {g['tolerance']:.3f}"
            for g in p["golden_values"]
        ]
        lines += [f"    ERROR: {p['error']}"] if p["error"] else []
    if report["allow_list"] is not None:
        lines.append(f"allow-list: {', '.join(report['allow_list'])}")
    if report["block_list"]:
        lines.append(f"block-list: {', '.join(report['block_list'])}")
    return "\n".join(lines) + "\n"


def _json_and_text(capsys, *flags: str) -> tuple[int, dict, int, str]:
    code_json = cli.main(["plugins", "--json", *flags])
    report = json.loads(capsys.readouterr().out)
    code_text = cli.main(["plugins", *flags])
    return code_json, report, code_text, capsys.readouterr().out


@pytest.fixture
def fresh_registry(monkeypatch):
    """`nas-harness plugins` builds its registry anew in this test (entry points; no allow- or block-list unless the
    test sets one)."""
    monkeypatch.setattr(registry_module, "_default", None)
    monkeypatch.delenv(registry_module.ALLOW_ENV, raising=False)
    monkeypatch.delenv(registry_module.BLOCK_ENV, raising=False)


def test_plugins_json_parses_and_says_what_the_text_says(capsys, fresh_registry):
    code_json, report, code_text, text = _json_and_text(capsys)
    assert code_json == code_text == 0
    assert _render(report) == text
    plugins = {p["name"]: p for p in report["plugins"]}
    shipped = set(PYPROJECT["project"]["entry-points"]["nas_harness"])
    assert shipped <= set(plugins)
    for name in shipped:
        p = plugins[name]
        assert p["builtin"] is True and p["version"] == nas_harness.__version__ and p["error"] is None
        assert set(p["registered"]) == set(KINDS)
    assert "nb201" in plugins["harness"]["registered"]["search_space"]
    assert "baselines.synflow" in plugins["baselines"]["registered"]["proxy"]
    assert {g["estimator"] for g in plugins["spos"]["golden_values"]} >= {"spos.supernet"}
    assert report["allow_list"] is None and report["block_list"] == []


def test_plugins_json_reports_failures_skipped_registrations_and_lists(tmp_path, monkeypatch, capsys, fresh_registry):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    (site / "install_broken_plugin.py").write_text("import not_a_module_anywhere\n")
    (site / "install_skipper_plugin.py").write_text(
        "from nas_harness.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef nas_harness_register_search_spaces(register):\n    register('nb201', dict)\n\n\n"
        "@hookimpl\ndef nas_harness_register_proxies(register):\n    register('skipper.mine', dict)\n"
    )
    write_dist_info(
        site, "install-test-plugins", "3.1", {"broken": "install_broken_plugin", "skipper": "install_skipper_plugin"}
    )
    monkeypatch.setenv(registry_module.BLOCK_ENV, "mixpath")

    code_json, report, code_text, text = _json_and_text(capsys)
    assert code_json == code_text == 0
    assert _render(report) == text
    plugins = {p["name"]: p for p in report["plugins"]}
    assert "mixpath" not in plugins and report["block_list"] == ["mixpath"]
    assert plugins["broken"]["builtin"] is False and plugins["broken"]["version"] == "3.1"
    assert plugins["broken"]["error"].startswith("failed to import: ModuleNotFoundError")
    skipper = plugins["skipper"]
    assert skipper["registered"]["proxy"] == ["skipper.mine"] and skipper["registered"]["search_space"] == []
    assert "search_space name 'nb201' belongs to built-in plugin 'harness'" in skipper["error"]

    code_json, report, code_text, text = _json_and_text(capsys, "--strict")
    assert code_json == code_text == cli.EXIT_CHECK_FAILED and _render(report) == text


# -- the shipped quickstart config -------------------------------------------------------------------------------------
def test_the_quickstart_ships_inside_the_package_and_is_the_default():
    assert shipped_configs_dir() == QUICKSTART.parent and "quickstart" in shipped_config_names()
    assert cli.build_parser().parse_args(["run"]).config == DEFAULT_CONFIG == "quickstart"
    assert not (ROOT / "configs" / "quickstart.toml").exists()  # one copy: the package's


@pytest.mark.parametrize(
    ("arg", "bare"),
    [
        ("quickstart", True),
        ("quickstart.toml", False),
        ("configs/quickstart.toml", False),
        ("./quickstart", False),
        ("..", False),
        (Path("quickstart"), True),
    ],
)
def test_a_bare_name_has_no_separator_and_no_toml_suffix(arg, bare):
    assert is_config_name(arg) is bare


def test_quickstart_by_name_from_any_folder_keeps_its_folders_relative_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config("quickstart").samefile(QUICKSTART)
    cfg = load_config("quickstart")
    assert cfg.name == "quickstart" and cfg.source == "nas_harness/configs/quickstart.toml"
    assert (cfg.output, cfg.leaderboard_dir) == ("runs/quickstart", "leaderboards")  # relative: to the working dir
    assert cfg.store_path.resolve() == tmp_path / "runs" / "quickstart" / "results.sqlite"
    assert list(tmp_path.iterdir()) == []


def test_the_config_hash_does_not_depend_on_where_the_config_lies(tmp_path):
    copy = tmp_path / "elsewhere" / "renamed.toml"
    copy.parent.mkdir()
    shutil.copy2(QUICKSTART, copy)
    shipped, moved = load_config("quickstart"), load_config(copy)
    assert shipped.source != moved.source == str(copy) and config_source(copy) == str(copy)
    assert shipped.config_hash() == moved.config_hash()
    assert shipped.to_dict() == moved.to_dict()


def test_a_file_of_that_name_in_the_working_directory_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = QUICKSTART.read_text(encoding="utf-8").replace('name = "quickstart"', 'name = "mine"')
    Path("quickstart").write_text(text, encoding="utf-8")
    assert resolve_config("quickstart") == Path("quickstart")
    assert load_config("quickstart").name == "mine"


@pytest.mark.parametrize("arg", ["quickstrat", "quickstrat.toml", "configs/quickstart.toml"])
def test_a_missing_config_is_a_usage_error_listing_the_shipped_names(arg, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"does not exist.*shipped configs \(run by name.*\): .*quickstart"):
        load_config(arg)
    assert cli.main(["run", arg]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"nas-harness: error: config file {arg} does not exist" in err and "quickstart" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["run", "quickstart"], ["run"]])
def test_nas_harness_run_quickstart_from_another_folder_runs_the_shipped_config(argv, tmp_path, monkeypatch):
    """Up to the study itself (6 minutes; CI runs it from the installed wheel): validated, then handed to run_study."""
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(cli, "run_study", lambda cfg, **kwargs: ran.append((cfg, kwargs)) or "outcome")
    monkeypatch.setattr(cli, "_report", lambda outcome: cli.EXIT_OK if outcome == "outcome" else -1)
    assert cli.main([*argv, "--no-progress"]) == cli.EXIT_OK
    ((cfg, kwargs),) = ran
    assert cfg.source == "nas_harness/configs/quickstart.toml" and cfg.output == "runs/quickstart"
    assert kwargs["world"].cfg is cfg and "baselines.synflow" in {e.label for e in cfg.estimators}
    assert kwargs["progress"] is False
    assert list(tmp_path.iterdir()) == []  # validation writes nothing; the study would write runs/ and leaderboards/
