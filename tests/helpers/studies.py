"""Build toy study configs for runner tests."""

from __future__ import annotations

from pathlib import Path

from nas_harness.config import parse_config
from nas_harness.testing import TINY_SUPERNET as TINY_SUPERNET  # the kit's small supernet options

TOY_PLUGINS = {"toy": "tests.helpers.toy_plugin"}


def toy_config(tmp_path: Path, estimators: list[dict], **study):
    raw = {
        "study": {
            "name": study.pop("name", "toy"),
            "seeds": study.pop("seeds", [0]),
            "sample_size": study.pop("sample_size", 40),
            "output": str(tmp_path / "run"),
            "leaderboard_dir": str(tmp_path / "boards"),
            "bootstrap": study.pop("bootstrap", 100),
            **study,
        },
        "benchmark": {"name": "toy.bench"},
        "estimators": estimators,
    }
    searchers = raw["study"].pop("searchers", None)
    if searchers:
        raw["searchers"] = searchers
    return parse_config(raw, str(tmp_path / "toy.toml"))
