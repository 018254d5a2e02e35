"""Weight-sharing supernet training, one sampled path per step, checkpointed per epoch.

The method decides which path a step trains (``sampler(epoch, step) -> Mask``:
SPOS one option per choice point, MixPath up to m); the loop runs the batch
through that path and updates only it: the unused options get no gradient
(``zero_grad(set_to_none=True)``), and :class:`torch.optim.SGD` skips
parameters without a gradient entirely, so they get no weight decay and no
momentum step either (as in the official SPOS code, where only the sampled
path takes part in the step).

Defaults are NAS-Bench-201's weight-sharing recipe (AutoDL-Projects
``configs/nas-benchmark/algos/RANDOM.config`` / ``SETN.config``, used for its
one-shot baselines): SGD with Nesterov momentum 0.9, lr 0.025 cosine-annealed
per step to 0.001, weight decay 5e-4, batch 64, gradient-norm clipping at 5,
250 epochs, random crop + flip.

Samplers must make the path a function of (seed, epoch, step), as the batches
and augmentations are; then
a checkpoint is written atomically after every epoch, so an interrupted
training resumes at the last finished epoch and ends with the same weights as
an uninterrupted one (on CPU). Epochs named in ``keep_epochs`` also keep a
snapshot of their weights (``supernet-e6.pt`` beside ``supernet.pt``): the
points of a budget curve, scored later from one training run.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from nas_harness.api import ConfigError, HarnessError
from nas_harness.options import check_int, check_ints
from nas_harness.spaces.masks import Mask

PathSampler = Callable[[int, int], Mask]  # (epoch, step) -> the path trained at that step


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 250
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    grad_clip: float | None = 5.0  # max gradient norm; None: no clipping
    augment: bool = True
    max_steps_per_epoch: int | None = None  # cap an epoch (CPU presets); None: the whole train split

    def __post_init__(self) -> None:
        check_ints("supernet training", epochs=self.epochs, batch_size=self.batch_size)
        if self.max_steps_per_epoch is not None:
            check_int("supernet training: max_steps_per_epoch (or none)", self.max_steps_per_epoch)
        for name in ("lr", "lr_min", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"supernet training: {name} = {value!r}; accepted: a finite number >= 0")
        if self.lr_min > self.lr:
            raise ConfigError(f"supernet training: lr_min = {self.lr_min} is above lr = {self.lr}")
        if self.grad_clip is not None and (not isinstance(self.grad_clip, int | float) or not self.grad_clip > 0):
            raise ConfigError(f"supernet training: grad_clip = {self.grad_clip!r}; accepted: a number > 0 or none")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def cosine_lr(settings: TrainSettings, step: int, total_steps: int) -> float:
    """Cosine annealing from ``lr`` to ``lr_min`` over all training steps (per-step, as xautodl updates it)."""
    progress = min(step / max(total_steps, 1), 1.0)
    return settings.lr_min + (settings.lr - settings.lr_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(net: nn.Module, settings: TrainSettings) -> torch.optim.SGD:
    return torch.optim.SGD(
        net.parameters(),
        lr=settings.lr,
        momentum=settings.momentum,
        nesterov=settings.nesterov and settings.momentum > 0,
        weight_decay=settings.weight_decay,
    )


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor],
    mask: Mask,
    grad_clip: float | None,
) -> tuple[float, int]:
    """One update of the path ``mask``; returns (loss, number of correct predictions)."""
    x, y = batch
    net.train()
    optimizer.zero_grad(set_to_none=True)  # unused options keep grad None: SGD leaves them untouched
    logits = net(x, mask)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_([p for p in net.parameters() if p.grad is not None], grad_clip)
    optimizer.step()
    return float(loss.detach()), int((logits.detach().argmax(1) == y).sum())


@dataclass
class TrainingState:
    epoch: int  # epochs finished
    curve: list[dict[str, float]]  # one row per finished epoch
    #: weights kept at ``keep_epochs`` when training has no checkpoint file (else they are files)
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)  # what the checkpoints were trained with


def snapshot_path(checkpoint: str | Path, epoch: int) -> Path:
    """Where the weights after ``epoch`` are kept beside ``checkpoint`` (``supernet.pt`` -> ``supernet-e6.pt``)."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}-e{epoch}{path.suffix}")


def train_supernet(
    net: nn.Module,
    sampler: PathSampler,
    data: Any,
    settings: TrainSettings,
    seed: int,
    *,
    sampler_id: str = "",
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    keep_epochs: Collection[int] = (),
    progress: bool | None = None,
) -> TrainingState:
    """Train ``net`` (a supernet with ``forward(x, mask)``) on ``data`` (a BatchProvider),
    step ``(epoch, step)`` through the path ``sampler(epoch, step)``.

    With ``checkpoint``, training resumes from it when it exists (it must have
    been written with the same settings, data, seed, network and ``sampler_id``,
    which names the sampling rule) and it is rewritten after every epoch.
    ``on_epoch`` gets each finished epoch's curve row. The weights after each
    epoch in ``keep_epochs`` are kept: in :func:`snapshot_path` files with a
    checkpoint, else in the returned state's ``snapshots``. ``progress`` shows a
    bar with the epoch, loss, accuracy and images/s (default: when stderr is a terminal).
    """
    net.to(device)
    optimizer = make_optimizer(net, settings)
    state = TrainingState(0, [])
    path = Path(checkpoint) if checkpoint is not None else None
    identity = {
        "settings": asdict(settings),
        "data": data.fingerprint(),
        "seed": int(seed),
        "network": shapes_digest(net),
        "sampler": sampler_id,
    }
    if path is not None and path.exists():
        state = load_checkpoint(path, net, optimizer, identity, device)
    state.identity = identity
    steps_per_epoch = data.batches_per_epoch(settings.batch_size, drop_last=True)
    if settings.max_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, settings.max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ConfigError(
            f"supernet training: batch_size = {settings.batch_size} is larger than the train split "
            f"({data.split_sizes()['train']} images)"
        )
    total_steps = settings.epochs * steps_per_epoch
    bar = tqdm(
        total=total_steps, initial=state.epoch * steps_per_epoch, desc=f"supernet {sampler_id or 'training'}",
        unit="step", file=sys.stderr, disable=(not sys.stderr.isatty()) if progress is None else not progress,
    )  # fmt: skip
    try:
        for epoch in range(state.epoch, settings.epochs):
            state = _train_epoch(net, optimizer, sampler, data, settings, epoch, steps_per_epoch, state, device, bar)
            if epoch + 1 in keep_epochs:  # before the checkpoint: a kill between the two redoes this epoch
                _keep_snapshot(net, optimizer, path, state)
            if path is not None:
                save_checkpoint(path, net, optimizer, state, identity)
            if on_epoch is not None:
                on_epoch(state.curve[-1])
    finally:
        bar.close()
    return state


def _train_epoch(net, optimizer, sampler, data, settings, epoch, steps_per_epoch, state, device, bar) -> TrainingState:
    """One epoch of single-path steps; returns the state with its curve row appended."""
    total_steps = settings.epochs * steps_per_epoch
    started = time.perf_counter()
    loss_sum, correct, seen = 0.0, 0, 0
    batches = data.epoch_iterator(epoch, settings.batch_size, settings.augment, drop_last=True, device=device)
    for step, batch in zip(range(steps_per_epoch), batches, strict=False):
        lr = cosine_lr(settings, epoch * steps_per_epoch + step, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, hits = train_step(net, optimizer, batch, sampler(epoch, step), settings.grad_clip)
        if not math.isfinite(loss):
            raise HarnessError(f"supernet training diverged: loss {loss} at epoch {epoch}, step {step} (lr {lr:.4g})")
        loss_sum += loss * len(batch[1])
        correct += hits
        seen += len(batch[1])
        bar.update(1)
    seconds = time.perf_counter() - started
    row = {
        "epoch": epoch + 1,
        "loss": loss_sum / seen,
        "train_acc": 100.0 * correct / seen,
        "lr": lr,
        "seconds": seconds,
        "images": seen,
        "images_per_s": seen / seconds if seconds > 0 else math.nan,
    }
    bar.set_postfix_str(
        f"epoch {epoch + 1}/{settings.epochs} loss {row['loss']:.3f} acc {row['train_acc']:.1f}% "
        f"{row['images_per_s']:.0f} img/s"
    )
    return TrainingState(epoch + 1, [*state.curve, row], state.snapshots, state.identity)


def _keep_snapshot(
    net: nn.Module, optimizer: torch.optim.Optimizer, checkpoint: Path | None, state: TrainingState
) -> None:
    """Keep the weights of the epoch just finished: a checkpoint file of their own (atomic), or in memory."""
    if checkpoint is None:
        state.snapshots[state.epoch] = copy.deepcopy(net.state_dict())
    else:
        save_checkpoint(snapshot_path(checkpoint, state.epoch), net, optimizer, state, state.identity)


def load_snapshot(net: nn.Module, state: TrainingState, epoch: int, checkpoint: Path | None, device: str) -> None:
    """Load into ``net`` the weights that :func:`train_supernet` kept after ``epoch`` (``keep_epochs``)."""
    if checkpoint is None:
        if epoch not in state.snapshots:
            raise HarnessError(f"the supernet's weights after epoch {epoch} were not kept (keep_epochs)")
        net.load_state_dict(state.snapshots[epoch])
        return
    path = snapshot_path(checkpoint, epoch)
    if not path.is_file():
        raise HarnessError(
            f"no snapshot {path} of the supernet after epoch {epoch}: the training in {checkpoint.parent} "
            "finished without keeping that epoch (was score_at changed afterwards?); delete the folder to retrain"
        )
    load_checkpoint(path, net, None, state.identity, device)


def shapes_digest(net: nn.Module) -> str:
    """A short digest of the network's tensor names and shapes: a checkpoint of another width does not load."""
    text = ";".join(f"{k}:{tuple(v.shape)}" for k, v in net.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer, state: TrainingState, identity: dict
) -> None:
    """Write atomically (temp file + rename): a kill mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(
        {
            "format": "nas-harness/supernet-checkpoint/1",
            "identity": identity,
            "epoch": state.epoch,
            "curve": state.curve,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
        },
        tmp,
    )
    os.replace(tmp, path)


def load_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer | None, identity: dict, device: str
) -> TrainingState:
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise HarnessError(f"supernet checkpoint {path} could not be read ({exc}); delete it to retrain") from exc
    if not isinstance(saved, dict) or saved.get("format") != "nas-harness/supernet-checkpoint/1":
        raise HarnessError(f"{path} is not an supernet checkpoint; delete it to retrain")
    if saved["identity"] != identity:
        changed = sorted(
            k for k in set(saved["identity"]) | set(identity) if saved["identity"].get(k) != identity.get(k)
        )
        raise HarnessError(
            f"supernet checkpoint {path} was trained with other {', '.join(changed)} than this study asks for; "
            "delete it (or use another study output) to retrain"
        )
    net.load_state_dict(saved["model"])
    if optimizer is not None:
        optimizer.load_state_dict(saved["optimizer"])
    return TrainingState(int(saved["epoch"]), list(saved["curve"]))
