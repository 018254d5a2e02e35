"""Ground-truth sources (benchmarks)."""
