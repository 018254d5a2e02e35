"""Every seed the harness derives, in one place: stable across processes, platforms and Python runs (no
``hash()``), so that the same config draws the same architectures, batches and supernet paths everywhere.

Two hashes exist for history's sake, and published results depend on each, so neither may change:

* :func:`derived_seed` (SHA-256 of the parts joined by ``:``) seeds the architecture samples, estimators,
  searchers and plugins;
* :func:`batch_seed` (BLAKE2b of ``repr(parts)``) seeds the data batches (splits, order, augmentation) of
  :class:`nas_harness.data.BatchProvider`; a change to it must bump ``BATCHES_VERSION`` there.
"""

from __future__ import annotations

import hashlib


def derived_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (stable across processes and Python runs)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def batch_seed(*parts: object) -> int:
    """A 63-bit seed for data batches from ``parts`` (ints and strings), stable across processes and runs."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
