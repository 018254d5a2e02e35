"""The plugin-author kit: small fixtures (tiny spaces, fake benchmarks, batches, contexts) and conformance checks
for estimators and searchers.

Example (a plugin's own tests)::

    from nas_harness.testing import check_estimator, one_torch_thread, tiny_archs, tiny_context

    def test_my_proxy_ranks_something():
        ctx = tiny_context(seed=0)                       # NB201 space, random 8x8 images, 4 classes
        with one_torch_thread():
            scores = [MyProxy().score(a, ctx) for a in tiny_archs(ctx.space, 4)]

    def test_my_proxy_conforms():
        check_estimator(MyProxy, {"width": 4})           # raises ConformanceError naming each failed check

pytest fixtures over the same helpers: ``pytest_plugins = ["nas_harness.testing.fixtures"]`` (the only module
of the kit that imports pytest; the package does not depend on it). The checks are described in
:mod:`nas_harness.testing.conformance`.
"""

from nas_harness.testing.conformance import (
    UNKNOWN_OPTION,
    CheckResult,
    ConformanceError,
    ConformanceReport,
    check_estimator,
    check_searcher,
)
from nas_harness.testing.fakes import (
    FactorySpace,
    FakeBenchmark,
    OracleProxy,
    ToyBenchmark,
    ToySpace,
    distinct_archs,
    toy_accuracy,
)
from nas_harness.testing.tiny import (
    TINY_SUPERNET,
    digits_benchmark,
    fake_benchmark,
    one_torch_thread,
    tiny_archs,
    tiny_context,
    tiny_dataset,
    tiny_provider,
    tiny_space,
)

__all__ = [
    "TINY_SUPERNET",
    "UNKNOWN_OPTION",
    "CheckResult",
    "ConformanceError",
    "ConformanceReport",
    "FactorySpace",
    "FakeBenchmark",
    "OracleProxy",
    "ToyBenchmark",
    "ToySpace",
    "check_estimator",
    "check_searcher",
    "digits_benchmark",
    "distinct_archs",
    "fake_benchmark",
    "one_torch_thread",
    "tiny_archs",
    "tiny_context",
    "tiny_dataset",
    "tiny_provider",
    "tiny_space",
    "toy_accuracy",
]
