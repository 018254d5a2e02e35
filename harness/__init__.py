"""nas-harness: a benchmarking harness for Neural Architecture Search.

This folder installs as ``nas_harness`` (pyproject's ``package-dir``): a top-level ``harness`` would clash with
the PyPI distribution of that name. Loaded under any other name (``import harness`` from the checkout root), the
same classes would exist twice and ``isinstance`` checks between them would fail, so that is refused here.
"""

if __name__ != "nas_harness":
    raise ImportError(f"this package imports as nas_harness, not {__name__}: write `import nas_harness`")

__version__ = "0.1.0"
