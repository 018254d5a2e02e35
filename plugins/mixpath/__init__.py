"""MixPath (Chu et al., ICCV 2023): multi-path one-shot supernet with Shadow BN, post-calibration, NSGA-II.

- :mod:`.shadow_bn`: the per-edge normalisations after the summed paths (SBN and the paper's ablations);
- :mod:`.estimator`: ``mixpath.supernet`` and the ablation estimators;
- :mod:`.nsga2`: ``mixpath.nsga2``, NSGA-II over (supernet accuracy, FLOPs or params).
"""
