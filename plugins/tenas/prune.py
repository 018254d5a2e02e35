"""``tenas.prune``: TE-NAS pruning-by-importance search on the NB201 supernet (paper section 3.3, Algorithm 1).

Start from the supernet with every op on every edge. Each round, for every
edge with more than one op left and every op ``o`` on it, measure the supernet
without ``o``:

- ``delta_kappa(o) = (kappa(N_t) - kappa(N_t \\ o)) / kappa(N_t)``: high when removing ``o``
  makes the network *more* trainable;
- ``delta_R(o) = (R(N_t) - R(N_t \\ o)) / R(N_t)``: low when removing ``o`` costs little
  expressivity;

rank all candidates by ``delta_kappa`` descending and by ``delta_R`` ascending
(0-based dense ranks), sum the ranks, and on every edge remove the op with the
lowest sum. Repeat until one op per edge is left; that cell is the result.

Details follow the official NB201 search (VITA-Group/TENAS ``prune_tenas.py``
``prune_func_rank`` / ``main``, launched by ``prune_launch.py``):

- ``none`` is removed from every edge before the first round (``alpha[:, 0] = -INF``),
  so the search starts from 4 ops per edge and takes 3 rounds;
- kappa on the ``C=3, N=1`` supernet (stem, three stages) in train mode, one batch
  of 72 augmented training images per repeat; R_N on the thin supernet (``C=1,
  N=1``, first cell only, no stem) over 3 x 1,000 one-channel 3x3 crops;
- ``repeat = 3``; each repeat's relative change is rounded to ``precision = 3``
  decimals, the mean over repeats ranked after rounding to 3 significant figures;
  ties in the rank sum go to the candidate ranked first by ``delta_kappa``;
- PyTorch default initialisation: the official passes ``--init kaiming_normal``,
  a name its ``init_model`` does not recognise, so its "random reinit" per
  repeat leaves the weights as constructed; repeats differ by their batch.

Deviations (for determinism and cost; see the plugin README section):

- within a round all candidates share one initialisation and the same batches
  per repeat (the official draws a new batch for every NTK call, and a new thin
  network per candidate), so ``kappa(N_t)`` and ``R(N_t)`` are measured once per
  repeat and round instead of once per candidate;
- batches are the study's seeded ``train_batch(round * repeats + r, batch_size)``.

The ``estimator`` the study pairs with this searcher is not used: the search
measures supernets, not architectures, with its own options below (name any
estimator label, e.g. that of ``tenas.combined``; its options are ignored).

Trace: one entry, for the final cell. A round ends with several ops left on
every edge (4 -> 3 -> 2 -> 1), and Algorithm 1 (like the official ``main``)
defines a single-path cell only when one op per edge remains; choosing one
from a partly pruned supernet would be a rule of our own. So the trace holds
``{"step": evaluations - 1, "arch": the final cell, "score": NaN, "seconds":
the whole search's seconds, "reused": False}``: the cell appears once all the
supernet measurements (``evaluations``) are paid for, and no estimator scored it.

Presets: ``"paper"`` (above) and ``"cpu-small"`` (batch 16, one repeat, 2 x 500
crops): a full search on 2 CPU cores in about a minute. Options given
explicitly override the preset.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from typing import Any

import torch

from nas_harness.api import ConfigError, Context, Estimator, Searcher, SearchResult
from nas_harness.proxy_kit import require_data
from nas_harness.seeding import derived_seed
from nas_harness.spaces import nb201 as nb201_space
from nas_harness.spaces.masks import is_single_path
from nas_harness.spaces.nb201_supernet import (
    Mask,
    NB201Supernet,
    full_mask,
    mask_to_arch,
    remove_op,
)
from nas_harness_plugins.tenas.common import (
    INIT_SCHEMES,
    check_choice,
    check_positive_int,
    dense_ranks,
    device_of,
    init_weights,
    require_nb201,
    resize,
    seeded,
)
from nas_harness_plugins.tenas.linear_regions import count_linear_regions, random_crops
from nas_harness_plugins.tenas.ntk import METHODS, NTKWarning, ntk_condition

PRESETS: dict[str, dict[str, Any]] = {
    # prune_launch.py (nas-bench-201): batch_size 72, --repeat 3, precision 3; prune_tenas.py model configs.
    "paper": {
        "batch_size": 72, "repeats": 3, "C": 3, "N": 1, "resolution": None,
        "lr_C": 1, "lr_samples": 1000, "lr_batches": 3, "crop_size": 3, "precision": 3,
    },
    # Same supernets, smaller batches: about a minute on 2 CPU cores.
    "cpu-small": {
        "batch_size": 16, "repeats": 1, "C": 3, "N": 1, "resolution": None,
        "lr_C": 1, "lr_samples": 500, "lr_batches": 2, "crop_size": 3, "precision": 3,
    },
}  # fmt: skip


def _relative_change(before: float, after: float) -> float:
    """``(before - after) / before``, defined for NaN (undefined kappa): NaN counts as +infinity."""
    before = math.inf if math.isnan(before) else before
    after = math.inf if math.isnan(after) else after
    if math.isinf(before):
        return 0.0 if math.isinf(after) else math.inf  # removing o made an untrainable net trainable
    return -math.inf if math.isinf(after) else (before - after) / before


class TenasPrune(Searcher):
    """TE-NAS pruning search on the NAS-Bench-201 supernet.

    Options (``None``: the preset's value):
        preset: ``"paper"`` (default) or ``"cpu-small"``.
        batch_size: NTK batch (paper 72); repeats: measurements averaged per candidate (3).
        C, N: NTK supernet width and cells per stage (3, 1); resolution: resize the NTK batch.
        lr_C: thin-network width (1); lr_samples, lr_batches, crop_size: linear-region inputs
            (1000, 3, 3).
        precision: rounding of the relative changes (3).
        include_none: keep ``none`` as a candidate (False: removed up front, as the official).
        init: ``"pytorch"`` or ``"kaiming_normal"``; method, chunk_size: NTK computation
            (see :mod:`..ntk`); device: overrides the study's device.
    """

    name = "tenas.prune"

    def __init__(
        self,
        preset: str = "paper",
        batch_size: int | None = None,
        repeats: int | None = None,
        C: int | None = None,
        N: int | None = None,
        resolution: int | None = None,
        lr_C: int | None = None,
        lr_samples: int | None = None,
        lr_batches: int | None = None,
        crop_size: int | None = None,
        precision: int | None = None,
        include_none: bool = False,
        init: str = "pytorch",
        method: str = "auto",
        chunk_size: int | None = 4,
        device: str | None = None,
    ) -> None:
        check_choice("tenas.prune preset", preset, tuple(PRESETS))
        given = {
            "batch_size": batch_size, "repeats": repeats, "C": C, "N": N, "resolution": resolution,
            "lr_C": lr_C, "lr_samples": lr_samples, "lr_batches": lr_batches, "crop_size": crop_size,
            "precision": precision,
        }  # fmt: skip
        cfg = {k: (v if v is not None else PRESETS[preset][k]) for k, v in given.items()}
        for key in ("batch_size", "repeats", "C", "N", "lr_C", "lr_samples", "lr_batches", "crop_size"):
            check_positive_int(f"tenas.prune {key}", cfg[key], 2 if key == "batch_size" else 1)
        if cfg["resolution"] is not None:
            check_positive_int("tenas.prune resolution", cfg["resolution"])
        check_positive_int("tenas.prune precision", cfg["precision"], 0)
        self.preset = preset
        self.cfg = cfg
        self.include_none = bool(include_none)
        self.init = check_choice("tenas.prune init", init, INIT_SCHEMES)
        self.method = check_choice("tenas.prune method", method, METHODS)
        self.chunk_size = None if chunk_size is None else check_positive_int("tenas.prune chunk_size", chunk_size)
        self.device = device

    # ------------------------------------------------------------------ measurements

    def _ntk_inputs(self, ctx: Context, round_: int) -> list[torch.Tensor]:
        data, c, dev = ctx.data, self.cfg, device_of(self.device, ctx)
        return [
            resize(data.train_batch(round_ * c["repeats"] + r, c["batch_size"], augment=True)[0], c["resolution"]).to(
                dev
            )
            for r in range(c["repeats"])
        ]

    def _lr_inputs(self, ctx: Context, round_: int) -> list[list[torch.Tensor]]:
        data, c, dev = ctx.data, self.cfg, device_of(self.device, ctx)
        sets = []
        for r in range(c["repeats"]):
            batches = []
            for b in range(c["lr_batches"]):
                index = (round_ * c["repeats"] + r) * c["lr_batches"] + b
                gen = torch.Generator().manual_seed(derived_seed("tenas.prune-crops", ctx.seed, index) % 2**63)
                x, _ = data.train_batch(index, c["lr_samples"], augment=False)
                batches.append(random_crops(x, c["crop_size"], c["lr_C"], gen).to(dev))
            sets.append(batches)
        return sets

    def _kappas(self, net: NB201Supernet, mask: Mask, inputs: list[torch.Tensor]) -> list[float]:
        net.set_mask(mask)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NTKWarning)
            return [ntk_condition(net, x, self.method, self.chunk_size).kappa for x in inputs]

    @staticmethod
    def _regions(net: NB201Supernet, mask: Mask, input_sets: list[list[torch.Tensor]]) -> list[int]:
        net.set_mask(mask)
        return [count_linear_regions(net, batches) for batches in input_sets]

    # ------------------------------------------------------------------ search

    def search(self, estimator: Estimator, ctx: Context) -> SearchResult:
        """Prune until one op per edge is left (``estimator`` is not used; see the module docstring)."""
        started = time.perf_counter()
        require_nb201(ctx, self.name)
        data = require_data(ctx, self.name)
        if data.input_shape[0] != 3:
            raise ConfigError(f"tenas.prune needs 3-channel images, the data has {data.input_shape[0]}")
        c, dev = self.cfg, device_of(self.device, ctx)
        ops, edges = nb201_space.OPS, nb201_space.EDGES
        edge_names = [f"{i}->{j}" for i, j in edges]
        digits = c["precision"]
        mask = full_mask(include_none=self.include_none)
        history: list[dict[str, Any]] = []
        evaluations = 0
        round_ = 0
        while not is_single_path(mask):
            start = time.perf_counter()
            with seeded("tenas.prune-ntk-init", ctx.seed, round_):
                net = init_weights(NB201Supernet(c["C"], c["N"], data.num_classes), self.init, "fan_out")
            net = net.to(dev).train()
            with seeded("tenas.prune-lr-init", ctx.seed, round_):
                thin = NB201Supernet(c["lr_C"], 1, data.num_classes, depth=1, use_stem=False)
                thin = init_weights(thin, self.init, "fan_in")
            thin = thin.to(dev).train()
            ntk_inputs, lr_inputs = self._ntk_inputs(ctx, round_), self._lr_inputs(ctx, round_)
            kappa0 = self._kappas(net, mask, ntk_inputs)
            regions0 = self._regions(thin, mask, lr_inputs)
            evaluations += 1
            candidates = []
            for e, active in enumerate(mask):
                if sum(active) == 1:
                    continue
                for o, on in enumerate(active):
                    if not on:
                        continue
                    cand = remove_op(mask, e, o)
                    kappas = self._kappas(net, cand, ntk_inputs)
                    regions = self._regions(thin, cand, lr_inputs)
                    evaluations += 1
                    # Per repeat: relative change rounded to `precision` decimals (official), then the mean.
                    dk = [round(_relative_change(k0, k1), digits) for k0, k1 in zip(kappa0, kappas, strict=True)]
                    dr = [round((r0 - r1) / r0, digits) for r0, r1 in zip(regions0, regions, strict=True)]
                    candidates.append({
                        "edge": edge_names[e], "edge_index": e, "op": ops[o], "op_index": o,
                        "kappa": _mean(kappas), "regions": statistics.fmean(regions),
                        "delta_kappa": _mean(dk), "delta_regions": statistics.fmean(dr),
                    })  # fmt: skip
            pruned = choose_pruned(candidates, digits)
            for cand in pruned.values():
                mask = remove_op(mask, cand["edge_index"], cand["op_index"])
                cand["pruned"] = True
            history.append({
                "round": round_,
                "kappa": _mean(kappa0), "kappas": kappa0,
                "regions": statistics.fmean(regions0), "regions_per_repeat": regions0,
                "pruned": [{"edge": pruned[e]["edge"], "op": pruned[e]["op"]} for e in sorted(pruned)],
                "remaining": {edge_names[e]: [ops[o] for o, on in enumerate(a) if on] for e, a in enumerate(mask)},
                "candidates": candidates,
                "seconds": time.perf_counter() - start,
            })  # fmt: skip
            round_ += 1
        arch = ctx.space.from_choices(mask_to_arch(mask))
        final = ctx.space.to_str(arch)
        history.append({"final": final, "preset": self.preset, "options": dict(self.cfg)})
        trace = [final_trace_entry(final, evaluations, time.perf_counter() - started)]
        return SearchResult(best=arch, history=history, evaluations=evaluations, trace=trace)


def final_trace_entry(arch: str, evaluations: int, seconds: float) -> dict[str, Any]:
    """The search's only trace entry (module docstring): the final cell, unscored, charged the whole search."""
    return {"step": evaluations - 1, "arch": arch, "score": math.nan, "seconds": seconds, "reused": False}


def choose_pruned(candidates: list[dict[str, Any]], digits: int) -> dict[int, dict[str, Any]]:
    """Rank the candidates as ``prune_func_rank`` does and pick, per edge, the op to remove.

    ``candidates``: dicts with ``edge_index``, ``delta_kappa``, ``delta_regions``; each gets
    ``rank_kappa`` (delta_kappa descending), ``rank_regions`` (delta_R ascending), both 0-based
    dense ranks after rounding to ``digits`` significant figures, and ``rank_sum``. Per edge the
    lowest rank sum is removed; ties go to the candidate that comes first in the delta_kappa
    order (the official stable sort over its ranking dict). Returns ``{edge_index: candidate}``.
    """
    rk = dense_ranks([d["delta_kappa"] for d in candidates], descending=True, digits=digits)
    rr = dense_ranks([d["delta_regions"] for d in candidates], descending=False, digits=digits)
    # dense ranks are non-decreasing along the sorted order, so (rank, input index) is that order
    order_kappa = {k: pos for pos, k in enumerate(sorted(range(len(candidates)), key=lambda k: (rk[k], k)))}
    for k, d in enumerate(candidates):
        d["rank_kappa"], d["rank_regions"], d["rank_sum"] = rk[k], rr[k], rk[k] + rr[k]
    chosen: dict[int, dict[str, Any]] = {}
    for k in sorted(range(len(candidates)), key=lambda k: (candidates[k]["rank_sum"], order_kappa[k])):
        chosen.setdefault(candidates[k]["edge_index"], candidates[k])
    return chosen


def _mean(values: list[float]) -> float:
    """Mean over repeats; NaN (an undefined kappa) when any value is NaN."""
    return math.nan if any(math.isnan(v) for v in values) else statistics.fmean(values)
