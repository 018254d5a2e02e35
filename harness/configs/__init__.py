"""Study configs that ship with nas-harness, run by name from any folder: ``nas-harness run quickstart``.

A data package: only ``*.toml`` files (pyproject's ``package-data``). :func:`nas_harness.config.resolve_config`
finds them; the folders a config names (``study.output``, ``study.leaderboard_dir``) stay relative to the
working directory.
"""
