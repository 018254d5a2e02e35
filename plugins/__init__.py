"""The methods that ship with nas-harness, each a plugin registered through entry points.

Installed as the package ``nas_harness_plugins`` (this folder), so that a plugin
imports as ``nas_harness_plugins.baselines`` and never clashes with another
distribution's top-level ``plugins``.
"""

if __name__ != "nas_harness_plugins":
    raise ImportError(f"this package imports as nas_harness_plugins, not {__name__}")
