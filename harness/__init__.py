"""nas-harness: a benchmarking harness for Neural Architecture Search."""

__version__ = "0.1.0"
