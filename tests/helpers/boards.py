"""A published toy leaderboard (tables, plots, pages) for the plot and HTML page tests."""

from __future__ import annotations

from pathlib import Path

from nas_harness.run.world import World
from nas_harness.track.publish import run_study
from tests.helpers.studies import TOY_PLUGINS, toy_config

#: an estimator label that would inject markup into a page (or math into a chart) if it were not escaped
EVIL_LABEL = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> $x^2$ & \"q\""

TOY_ESTIMATORS = [
    {"name": "toy.good"},
    {"name": "toy.inverse"},  # lower is better
    {"name": "toy.nan"},  # some failures
    {"name": "toy.good", "label": EVIL_LABEL},
]


def publish_toy_board(tmp_path: Path, **kwargs) -> tuple[object, Path]:
    """Run the toy study under ``tmp_path``; returns (config, its leaderboard folder)."""
    cfg = toy_config(tmp_path, TOY_ESTIMATORS, seeds=[0, 1], sample_size=30)
    run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False, **kwargs)
    return cfg, Path(cfg.leaderboard_dir) / cfg.name
