"""Build toy study configs for runner tests."""

from __future__ import annotations

from pathlib import Path

from nas_harness.config import parse_config

TOY_PLUGINS = {"toy": "tests.helpers.toy_plugin"}

#: supernet options small enough for a test: one epoch of a 2-channel, 1-cell supernet on tiny images
TINY_SUPERNET = {"C": 2, "N": 1, "epochs": 1, "batch_size": 8, "calibration_batches": 2, "calibration_batch_size": 8,
                 "eval_images": 16, "eval_batch_size": 8}  # fmt: skip


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
