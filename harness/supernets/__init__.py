"""What every weight-sharing method shares: the training loop, BN recalibration and the estimator.

A method (SPOS, MixPath, ...) only says which path each training step runs
(a path sampler) and, when it needs one, how to build its supernet; the space
provides the supernet itself (:meth:`nas_harness.api.WeightSharing.build_supernet`: spaces
without that capability are refused with a :class:`~nas_harness.api.CapabilityError`).
"""
