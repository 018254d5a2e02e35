"""Build a ground-truth benchmark by training architectures with one fixed recipe.

``nas-harness groundtruth train CONFIG`` trains every (architecture, seed) of a config and
appends one row per finished pair to a CSV table (:mod:`.build`); the table then serves as a
:class:`~nas_harness.api.Benchmark` (:mod:`.benchmark`). The project's embedded NB201 benchmark
(``nb201.digits``) was built this way from ``configs/groundtruth-nb201-digits.toml``.
"""
