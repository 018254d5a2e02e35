"""The fixed training recipe of a ground-truth table, and its hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from nas_harness.api import ConfigError
from nas_harness.options import check_ints


@dataclass(frozen=True)
class TrainRecipe:
    """How every architecture of a ground-truth table is trained and evaluated.

    NAS-Bench-201's recipe (Dong & Yang 2020, section 3: SGD with Nesterov momentum 0.9,
    weight decay 5e-4, cosine schedule, batch 256, 200 epochs) scaled down to what trains 600
    networks on two CPU cores in well under an hour: a thin network and few epochs.
    """

    dataset: str = "digits"
    epochs: int = 3  # few epochs on purpose: see docs/benchmarks-and-data.md (digits saturate with longer training)
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    augment: bool = False  # NB201's crop+flip; a horizontal flip changes what a digit means
    C: int = 8  # network width (NB201: 16)
    N: int = 1  # cells per stage (NB201: 5)
    valid_size: float = 0.1  # hold-out of the train split for the validation accuracy
    split_seed: int = 0

    def __post_init__(self) -> None:
        check_ints("recipe", epochs=self.epochs, batch_size=self.batch_size, C=self.C, N=self.N)
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"recipe {name} = {value!r}; expected a number >= 0")
        if not 0 <= self.valid_size < 1:
            raise ConfigError(f"recipe valid_size = {self.valid_size!r}; expected a fraction in [0, 1)")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "[recipe]") -> TrainRecipe:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; accepted: {', '.join(sorted(known))}")
        return cls(**raw)

    def hash(self) -> str:
        """16 hex digits that change whenever any field changes."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]
