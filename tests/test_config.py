from pathlib import Path

import pytest

from nas_harness.api import ConfigError
from nas_harness.config import load_config, parse_config
from nas_harness.testing import FakeBenchmark, tiny_space

ROOT = Path(__file__).resolve().parents[1]

BASE = {"benchmark": {"name": "toy.bench"}, "estimators": [{"name": "toy.good"}]}


def cfg(**study):
    return {**BASE, "study": study}


def test_minimal_config_gets_defaults():
    c = parse_config(BASE, "x.toml")
    assert c.name == "x" and c.seeds == [0] and c.sample_size == 100 and c.split == "test"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (cfg(seeds="0"), "study.seeds = '0' is not accepted; expected a list of integers"),
        (cfg(seeds=[0, 0]), "repeats a seed"),
        (cfg(sample_size=0), "study.sample_size = 0"),
        (cfg(sample_size="many"), "study.sample_size = 'many'"),
        (cfg(executor="dask"), "study.executor = 'dask'; accepted: local, process, ray"),
        (cfg(device="gpu"), "study.device = 'gpu'"),
        (cfg(top_k=[0]), "study.top_k"),
        (cfg(workers=True), "study.workers = True"),
        (cfg(torch_threads=0), "study.torch_threads = 0"),
        (cfg(colour="red"), "unknown key study.colour"),
        ({**BASE, "extra": {}}, "unknown section(s) ['extra']"),
        ({"estimators": [{"name": "a"}]}, "missing [benchmark]"),
        ({"benchmark": {"name": "b"}}, "no [[estimators]]"),
        ({**BASE, "estimators": [{"name": "a"}, {"name": "a"}]}, "label(s) ['a'] used twice"),
        ({**BASE, "estimators": [{"nam": "a"}]}, "unknown key(s) ['nam']"),
        ({**BASE, "searchers": [{"name": "random", "estimator": "nope"}]}, "uses estimator 'nope'"),
    ],
)
def test_bad_configs_name_the_value_and_what_is_accepted(raw, message):
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "bad.toml")
    assert message in str(info.value)
    assert "bad.toml" in str(info.value)


def test_environment_references(monkeypatch):
    raw = {**BASE, "benchmark": {"name": "toy.bench", "options": {"path": "${TOY_PATH}/x", "y": "${NOPE:-dflt}"}}}
    monkeypatch.setenv("TOY_PATH", "/data")
    c = parse_config(raw, "env.toml")
    assert c.benchmark.options == {"path": "/data/x", "y": "dflt"}
    monkeypatch.delenv("TOY_PATH")
    with pytest.raises(ConfigError, match=r"environment variable TOY_PATH is not set"):
        parse_config(raw, "env.toml")


def test_config_hash_ignores_output_paths_but_not_science():
    a = parse_config(cfg(output="a"), "a.toml")
    b = parse_config(cfg(output="b", workers=4), "b.toml")
    c = parse_config(cfg(seeds=[1]), "c.toml")
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_toml_round_trip():
    c = parse_config(
        {**cfg(sample_size="all", seeds=[3, 4]), "searchers": [{"name": "random", "estimator": "toy.good"}]}, "r.toml"
    )
    again = parse_config(c.to_toml_dict(), "r.toml")
    assert again == c


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname=")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


SHIPPED = sorted((ROOT / "harness" / "configs").glob("*.toml"))  # inside the package: nas-harness run NAME


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")) + SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_load_and_name_registered_plugins(path, monkeypatch):
    from nas_harness.registry import get_registry

    monkeypatch.delenv("NAS_HARNESS_NB201_TABLE", raising=False)
    monkeypatch.setenv("NAS_HARNESS_NB101", "/data/nasbench_only108.tfrecord")  # the full-NB101 configs need it
    if path.name.startswith("groundtruth-"):  # ground-truth build configs have their own format
        from nas_harness.groundtruth.build import load_groundtruth_config

        assert load_groundtruth_config(path).archs
        return
    cfg = load_config(path)
    registry = get_registry()
    assert cfg.benchmark.name in registry.names("benchmark")
    for ref in cfg.estimators:
        reg = registry.get_estimator(ref.name)  # raises, naming the estimator, when it is not registered
        given = {"benchmark": FakeBenchmark(tiny_space())} if getattr(reg.factory, "needs_benchmark", False) else {}
        registry.create(reg.kind, ref.name, **ref.options, **given)  # and its options are accepted (the oracle
        # gets a benchmark, as World.estimator hands it the study's)
    for ref in cfg.searchers:
        assert ref.name in registry.names("searcher")


def test_reference_must_name_an_estimator_and_does_not_change_the_config_hash(tmp_path):
    raw = {
        "study": {"name": "ref", "output": str(tmp_path)},
        "benchmark": {"name": "nb201.digits"},
        "estimators": [{"name": "baselines.params"}, {"name": "baselines.random"}],
    }
    plain = parse_config(raw, "ref.toml")
    paired = parse_config({**raw, "study": {**raw["study"], "reference": "baselines.params"}}, "ref.toml")
    assert paired.reference == "baselines.params" and paired.config_hash() == plain.config_hash()
    with pytest.raises(ConfigError, match=r"study\.reference = 'baselines\.parms' is not among"):
        parse_config({**raw, "study": {**raw["study"], "reference": "baselines.parms"}}, "ref.toml")
