"""SPOS (Guo et al., ECCV 2020): single-path one-shot supernet, BN recalibration, evolutionary search.

- :mod:`.sampling`: uniform single paths over a space's choice points (section 3.2);
- :mod:`.training`: supernet training, one uniformly sampled path per step, checkpointed;
- :mod:`.calibration`: BN statistics recomputed per architecture, then validation accuracy;
- :mod:`.estimator`: ``spos.supernet``; :mod:`.evolution`: ``spos.evolution``.
"""
