"""Small in-memory image data sets for tests that need real :class:`BatchProvider` batches.

They live in the plugin-author kit (:mod:`nas_harness.testing`) so that plugins' tests can use them too.
"""

from __future__ import annotations

from nas_harness.testing import one_torch_thread, tiny_provider

__all__ = ["one_torch_thread", "tiny_provider"]
