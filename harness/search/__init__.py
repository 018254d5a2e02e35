"""Generic searchers over any space with the capabilities they need: regularized evolution
(:mod:`.rea`) and local search (:mod:`.local_search`), with what they share (:mod:`.pool`,
:mod:`.incumbent`). Random search is :mod:`nas_harness.searchers`."""
