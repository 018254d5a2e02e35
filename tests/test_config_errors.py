"""Config mistakes stop `nas-harness` before any work (exit 2, nothing written); the exit codes; strict parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nas_harness import cli
from nas_harness.api import ArchitectureError, ConfigError
from nas_harness.cli import main
from nas_harness.config import load_config
from nas_harness.run.validate import rejected_option, validated_world
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.spaces.nb101 import NB101Space
from nas_harness.spaces.nb201 import NB201Space

ROOT = Path(__file__).resolve().parents[1]
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def write_study(tmp_path: Path, estimators=None, searchers=(), data=None, file="study.toml", **study) -> Path:
    """A small valid study on the embedded benchmark (``nb201.digits``), with its output in ``tmp_path``."""
    study = {
        "name": "errors",
        "sample_size": 12,
        "bootstrap": 20,
        "output": str(tmp_path / "run"),
        "leaderboard_dir": str(tmp_path / "boards"),
        **study,
    }
    lines = ["[study]", *(f"{k} = {_toml(v)}" for k, v in study.items()), "", "[benchmark]", 'name = "nb201.digits"']
    if data is not None:
        lines += ["", "[data]", *(f"{k} = {_toml(v)}" for k, v in data.items())]
    for section, tables in (("estimators", estimators or [{"name": "baselines.random"}]), ("searchers", searchers)):
        for table in tables:
            lines += ["", f"[[{section}]]", *(f"{k} = {_toml(v)}" for k, v in table.items())]
    path = tmp_path / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["run", *map(str, args), "--no-progress", "--no-plots"])
    out, err = capsys.readouterr()
    return code, out, err


def assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "run").exists(), "a refused config must create no output folder or store"
    assert not (tmp_path / "boards").exists()


# -- whole-study validation -------------------------------------------------------------------------
SUPERNET = {"name": "spos.supernet", "options": {"preset": "cpu-small", "epochs": 1}}


@pytest.mark.parametrize(
    ("estimators", "searchers", "data", "expected"),
    [
        ([{"name": "baselines.nope"}], [], None, "estimators[0].name = 'baselines.nope': unknown estimator"),
        (
            [{"name": "baselines.random"}, {"name": "spos.supernet", "options": {"epochz": 3}}],
            [],
            None,
            "estimators[1].options.epochz = 3 not accepted by spos.supernet: spos.supernet: unknown option(s)",
        ),
        (
            [{"name": "spos.supernet", "options": {"preset": "cpu-small", "epochs": "30"}}],
            [],
            None,
            "estimators[0].options.epochs = '30' not accepted by spos.supernet: supernet training: "
            "epochs = '30'; accepted: a positive integer",
        ),
        (
            [{"name": "baselines.snip", "options": {"batch_size": 0, "C": 8}}],
            [],
            None,
            "estimators[0].options.batch_size = 0 not accepted by baselines.snip",
        ),
        (
            [{"name": "baselines.random"}],
            [{"name": "random", "estimator": "baselines.random", "options": {"budget": -5}}],
            None,
            "searchers[0].options.budget = -5 not accepted by random: random search budget = -5; "
            "accepted: a positive integer",
        ),
        (
            [{"name": "baselines.random"}],
            [{"name": "random", "estimator": "baselines.random", "options": {"budgett": 5}}],
            None,
            "searchers[0].options.budgett = 5 not accepted by random",
        ),
        (
            [{"name": "baselines.random"}],
            [{"name": "spos.evolutionn", "estimator": "baselines.random"}],
            None,
            "searchers[0].name = 'spos.evolutionn': unknown searcher",
        ),
        (
            [SUPERNET],
            [],
            {"name": "cifar10", "options": {"root": "/no/such/cifar10"}},
            "data.options.root = '/no/such/cifar10': no such file or folder",
        ),
        ([SUPERNET], [], {"name": "digits", "options": {"roots": "x"}}, "data.options: unknown [data] option(s)"),
    ],
)
def test_a_config_mistake_exits_2_naming_file_key_and_value_and_writes_nothing(
    tmp_path, capsys, estimators, searchers, data, expected
):
    config = write_study(tmp_path, estimators, searchers, data)
    code, _, err = run(capsys, config)
    assert code == 2, err
    assert f"nas-harness: error: {config}: {expected}" in err
    assert_nothing_written(tmp_path)


def test_every_problem_of_a_study_is_listed_at_once(tmp_path):
    config = write_study(
        tmp_path,
        [{"name": "baselines.random"}, {"name": "nope"}, {"name": "spos.supernet", "options": {"epochs": 0}}],
        [{"name": "random", "estimator": "baselines.random", "options": {"budget": "all"}}],
    )
    with pytest.raises(ConfigError) as info:
        validated_world(load_config(config))
    lines = str(info.value).splitlines()
    assert lines[0] == f"{config}: 3 problems:"
    assert [line.split(" = ")[0].strip() for line in lines[1:]] == [
        "estimators[1].name",
        "estimators[2].options.epochs",
        "searchers[0].options.budget",
    ]


def test_an_unknown_benchmark_is_refused(tmp_path, capsys):
    config = write_study(tmp_path)
    config.write_text(config.read_text().replace('"nb201.digits"', '"nb201.digitz"'), encoding="utf-8")
    code, _, err = run(capsys, config)
    assert code == 2 and "benchmark.name = 'nb201.digitz': unknown benchmark 'nb201.digitz'" in err
    assert_nothing_written(tmp_path)


def test_validation_builds_the_estimators_the_run_uses_and_shipped_configs_pass():
    for config in ("quickstart", ROOT / "configs" / "nightly.toml"):  # the quickstart ships in the package
        world = validated_world(load_config(config))
        assert set(world._estimators) == {e.label for e in world.cfg.estimators}


def test_rejected_option_names_the_one_key_an_error_is_about():
    options = {"epochs": 30, "epochz": 3, "C": 8}
    assert rejected_option(options, ConfigError("x: unknown option(s) ['epochz']; accepted: epochs, C")) == "epochz"
    assert rejected_option(options, ConfigError("training: epochs = 0; accepted: a positive integer")) == "epochs"
    assert rejected_option(options, TypeError("f() got an unexpected keyword argument 'C'")) == "C"
    assert rejected_option(options, ConfigError("something else went wrong")) is None


# -- plain values and the command line ------------------------------------------------------------
@pytest.mark.parametrize(
    ("study", "expected"),
    [
        ({"seeds": [-1]}, "study.seeds = [-1]; expected a non-empty list of non-negative integers"),
        ({"seeds": [0, 2, 0]}, "study.seeds = [0, 2, 0] repeats a seed"),
        ({"name": "../../x"}, "study.name = '../../x' is not accepted; a study name uses letters, digits"),
        ({"name": ".hidden"}, "study.name = '.hidden' is not accepted"),
        ({"name": "a/b"}, "study.name = 'a/b' is not accepted"),
        ({"workers": 0}, "study.workers = 0; expected a positive integer"),
    ],
)
def test_bad_study_values_exit_2_and_write_nothing(tmp_path, capsys, study, expected):
    config = write_study(tmp_path, **study)
    code, _, err = run(capsys, config)
    assert code == 2 and f"{config}: {expected}" in err, err
    assert_nothing_written(tmp_path)


def test_a_traversal_name_writes_nothing_outside_the_leaderboard_folder(tmp_path, capsys):
    boards = tmp_path / "site" / "boards"
    victim = tmp_path / "index.html"
    victim.write_text("mine", encoding="utf-8")
    config = write_study(tmp_path, name="../../x", leaderboard_dir=str(boards))
    assert run(capsys, config)[0] == 2
    assert victim.read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "site").exists() and not (tmp_path / "x").exists() and not (tmp_path / "run").exists()


def test_a_name_taken_from_an_unsafe_file_name_says_so(tmp_path, capsys):
    config = write_study(tmp_path, file="my study.toml")
    text = config.read_text().replace('name = "errors"\n', "", 1)
    config.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, config)
    assert code == 2 and "the study name (from the file name) = 'my study' is not accepted" in err


def test_a_binary_config_exits_2_without_a_traceback(tmp_path, capsys):
    config = tmp_path / "model.pt"
    config.write_bytes(b"PK\x03\x04\x80\xff\xfe binary")
    code, _, err = run(capsys, config)
    assert code == 2 and f"config file {config} is not UTF-8 text" in err and "Traceback" not in err


def test_a_folder_given_as_config_exits_2(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path)
    assert code == 2 and f"config file {tmp_path} cannot be read" in err


@pytest.mark.parametrize("workers", ["-1", "0"])
def test_workers_flag_must_be_positive(tmp_path, capsys, workers):
    code, _, err = run(capsys, write_study(tmp_path), "--workers", workers)
    assert code == 2 and f"--workers = {workers}; accepted: a positive integer" in err
    assert_nothing_written(tmp_path)


def test_device_flag_is_checked(tmp_path, capsys):
    code, _, err = run(capsys, write_study(tmp_path), "--device", "gpu")
    assert code == 2 and "--device = 'gpu'; accepted: cpu, cuda, cuda:N, mps" in err
    assert_nothing_written(tmp_path)


# -- exit codes ---------------------------------------------------------------------------------
def test_run_exits_0_when_done_and_4_when_an_estimator_failed_everywhere(tmp_path, capsys):
    code, out, err = run(capsys, write_study(tmp_path))
    assert code == 0, err
    # snip needs image data: with no [data] section every architecture fails, but the study completes
    failing = write_study(tmp_path / "b", [{"name": "baselines.random"}, {"name": "baselines.snip"}])
    code, out, err = run(capsys, failing)
    assert code == 4
    assert "failed 12" in out and (tmp_path / "b" / "boards" / "errors" / "estimators.csv").is_file()
    assert re.search(
        r"estimator 'baselines\.snip' failed on every architecture \(12 rows\); first error: failed: .*no image data",
        err,
    )
    assert "baselines.random" not in err
    assert main(["resume", str(tmp_path / "b" / "run"), "--no-progress", "--no-plots"]) == 4


def test_usage_errors_exit_2_and_unexpected_exceptions_exit_3(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as info:
        main(["run", "--no-such-flag"])
    assert info.value.code == 2

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_cmd_history", broken)
    assert main(["history", str(tmp_path / "h.csv")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err and "internal error" in err


def test_docs_document_every_exit_code():
    page = (ROOT / "docs" / "configs.md").read_text(encoding="utf-8")
    section = page.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| *`?(\d+)`? *\|", section, re.M)}
    codes = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    assert documented == codes


# -- architecture strings are parsed only in their canonical form ---------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" " + ARCH, "leading or trailing whitespace"),
        (ARCH + "\n", "leading or trailing whitespace"),
        (ARCH.replace("~0|+|nor_conv_3x3~0", "~00|+|nor_conv_3x3~0"), "writes input 0 as '00'; expected '~0'"),
        (ARCH.replace("skip_connect~2", "skip_connect~\u0662"), "writes input 2 as '\u0662'"),
        (ARCH.replace("|+|", "| +|", 1), "must start and end with '|'"),
    ],
)
def test_nb201_parse_accepts_only_the_canonical_string(text, message):
    space = NB201Space()
    assert space.to_str(space.parse(ARCH)) == ARCH
    with pytest.raises(ArchitectureError) as info:
        space.parse(text)
    assert repr(text) in str(info.value) and message in str(info.value)
    assert "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in str(info.value) or "input" in message


def test_multipath_and_nb101_parse_refuse_padded_strings():
    multi = MultiPathSpace(NB201Space(), m=2)
    text = ARCH.replace("nor_conv_3x3~0|+", "nor_conv_1x1,nor_conv_3x3~0|+", 1)
    assert multi.to_str(multi.parse(text)) == text
    for bad in (" " + text, text.replace("~1|", "~01|")):
        with pytest.raises(ArchitectureError, match="NAS-Bench-201 architecture"):
            multi.parse(bad)
    nb101 = NB101Space()
    cell = "011-001-000;input,conv3x3-bn-relu,output"
    assert nb101.to_str(nb101.parse(cell)) == cell
    with pytest.raises(ArchitectureError, match="leading or trailing whitespace"):
        nb101.parse(cell + " ")
