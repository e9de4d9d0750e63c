"""The Ignite training used by every chapter and script: one place, device-agnostic.

``setup_training`` wires the pieces the article uses, with Ignite's own handlers:

* an ``Engine`` whose update step is MSE loss and an optimizer step, in full or mixed precision
  (``torch.amp``: float16 autocast with a ``GradScaler`` on CUDA, bfloat16 autocast on a CPU);
* ``CosineAnnealingScheduler`` on the learning rate, stepped every iteration;
* ``Timer(average=True)`` for the mean time of an update step (data loading excluded);
* ``ProgressBar`` (tqdm) with the running loss;
* an evaluator with ``MeanAbsoluteError`` and ``Loss`` (MSE), run on validation data after every
  epoch, and a ``Checkpoint`` that keeps the model with the best validation MAE.

Nothing here assumes CUDA: the device comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from ignite.engine import Engine, Events  # noqa: F401  (Events is re-exported)
from ignite.handlers import (
    Checkpoint,
    CosineAnnealingScheduler,
    DiskSaver,
    ProgressBar,
    Timer,
    global_step_from_engine,
)
from ignite.metrics import Loss, MeanAbsoluteError
from torch import nn

PRECISIONS = ("float32", "mixed")
"""``float32``: full precision; ``mixed``: autocast (float16 on CUDA, bfloat16 on a CPU)."""


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The reduced precision ``mixed`` uses on a device: float16 on CUDA, bfloat16 elsewhere."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def make_trainer(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str,
    precision: str = "float32",
) -> Engine:
    """An Ignite ``Engine`` whose step trains ``model`` on one ``(X, Y)`` batch with MSE loss.

    The step returns the batch's loss as a float. With ``precision="mixed"`` the forward pass
    runs under ``torch.autocast``; on CUDA a ``GradScaler`` scales the float16 loss (it is the
    engine's ``scaler`` attribute, so that checkpoints can save it).

    Args:
        model: maps ``(batch, 6)`` inputs to ``(batch,)`` prices.
        optimizer: optimises ``model``'s parameters.
        device: where the batches are moved before the step.
        precision: one of ``PRECISIONS``.

    Raises:
        ValueError: for an unknown precision.
    """
    _check_precision(precision)
    device = torch.device(device)
    mixed = precision == "mixed"
    dtype = autocast_dtype(device)
    scaler = torch.amp.GradScaler(device.type, enabled=mixed and dtype == torch.float16)

    def update(engine: Engine, batch: tuple[torch.Tensor, torch.Tensor]) -> float:
        model.train()
        x, y = (t.to(device, non_blocking=True) for t in batch)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=mixed):
            prediction = model(x)
        loss = nn.functional.mse_loss(prediction.float(), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss.item()

    trainer = Engine(update)
    trainer.scaler = scaler
    return trainer


def make_evaluator(
    model: nn.Module, *, device: torch.device | str, precision: str = "float32"
) -> Engine:
    """An Ignite evaluator with metrics ``mae`` (``MeanAbsoluteError``) and ``mse`` (``Loss``)."""
    _check_precision(precision)
    device = torch.device(device)

    def step(engine: Engine, batch: tuple[torch.Tensor, torch.Tensor]):
        model.eval()
        x, y = (t.to(device, non_blocking=True) for t in batch)
        with (
            torch.no_grad(),
            torch.autocast(device.type, dtype=autocast_dtype(device), enabled=precision == "mixed"),
        ):
            return model(x).float(), y

    evaluator = Engine(step)
    MeanAbsoluteError().attach(evaluator, "mae")
    Loss(nn.functional.mse_loss).attach(evaluator, "mse")
    return evaluator


@dataclass
class Training:
    """What ``setup_training`` wired: run ``trainer.run(data, max_epochs=...)``, then read these.

    Attributes:
        trainer: the training engine.
        timer: Ignite ``Timer``; ``timer.value()`` is the mean update-step time in seconds.
        losses: the training loss of every iteration, in order.
        evaluator: the validation engine, or None without validation data.
        validation: one ``{"epoch", "mae", "mse"}`` dictionary per epoch.
        checkpoint: the best-MAE ``Checkpoint`` handler, or None without a checkpoint folder.
        scheduler: the learning-rate scheduler (saved with resumable checkpoints).
    """

    trainer: Engine
    timer: Timer
    scheduler: CosineAnnealingScheduler | None = None
    losses: list[float] = field(default_factory=list)
    evaluator: Engine | None = None
    validation: list[dict] = field(default_factory=list)
    checkpoint: Checkpoint | None = None


def setup_training(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str,
    lr_start: float,
    lr_end: float,
    cycle_size: int,
    train_data: Iterable | None = None,
    val_data: Iterable | None = None,
    precision: str = "float32",
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> Training:
    """Builds the trainer and attaches the scheduler, timer, loss record, progress bar, evaluator
    and best-MAE checkpoint.

    Args:
        model, optimizer, device, precision: as in ``make_trainer``.
        lr_start, lr_end: the cosine schedule's learning rates at the start and end of a cycle.
        cycle_size: iterations per cosine cycle (the article: one epoch).
        train_data: the training iterable; if it has ``set_epoch`` (``OptionDataSet``), it is
            called at every epoch start so that each epoch draws new options.
        val_data: validation batches, evaluated after every epoch; None for no validation.
        checkpoint_dir: where the best model by validation MAE is saved (needs ``val_data``).
        progress: show Ignite's tqdm progress bar.

    Raises:
        ValueError: a checkpoint folder without validation data, or ``cycle_size < 2``.
    """
    if checkpoint_dir is not None and val_data is None:
        raise ValueError(
            "checkpoint_dir needs val_data: the checkpoint keeps the best validation MAE"
        )
    if cycle_size < 2:
        raise ValueError(f"cycle_size must be >= 2 iterations, got {cycle_size}")
    trainer = make_trainer(model, optimizer, device=device, precision=precision)
    scheduler = CosineAnnealingScheduler(optimizer, "lr", lr_start, lr_end, cycle_size)
    trainer.add_event_handler(Events.ITERATION_STARTED, scheduler)
    timer = Timer(average=True)
    timer.attach(
        trainer,
        start=Events.EPOCH_STARTED,
        resume=Events.ITERATION_STARTED,
        pause=Events.ITERATION_COMPLETED,
        step=Events.ITERATION_COMPLETED,
    )
    training = Training(trainer=trainer, timer=timer, scheduler=scheduler)
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: training.losses.append(engine.state.output)
    )
    if train_data is not None and hasattr(train_data, "set_epoch"):
        trainer.add_event_handler(
            Events.EPOCH_STARTED, lambda engine: train_data.set_epoch(engine.state.epoch)
        )
    if progress:
        ProgressBar(persist=False).attach(trainer, output_transform=lambda loss: {"loss": loss})
    if val_data is not None:
        evaluator = make_evaluator(model, device=device, precision=precision)
        training.evaluator = evaluator

        @trainer.on(Events.EPOCH_COMPLETED)
        def validate(engine: Engine) -> None:
            metrics = evaluator.run(val_data).metrics
            training.validation.append(
                {"epoch": engine.state.epoch, "mae": metrics["mae"], "mse": metrics["mse"]}
            )

        if checkpoint_dir is not None:
            training.checkpoint = Checkpoint(
                {"model": model},
                DiskSaver(str(checkpoint_dir), require_empty=False, atomic=True),
                n_saved=1,
                filename_prefix="best",
                score_function=lambda engine: -engine.state.metrics["mae"],
                score_name="neg_val_mae",
                global_step_transform=global_step_from_engine(trainer),
            )
            evaluator.add_event_handler(Events.COMPLETED, training.checkpoint)
    return training


def compare_precisions(
    initial: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device | str,
    lr_start: float,
    lr_end: float,
    precisions: tuple[str, ...] = PRECISIONS,
) -> dict[str, Training]:
    """Trains a copy of ``initial`` on the same ``batches`` once per precision, for one epoch.

    Each copy starts from the same weights with a fresh Adam and the same cosine schedule, so
    the runs differ only in precision; ``result[p].timer.value()`` is the mean update step.

    Args:
        initial: the network to copy (left untouched).
        batches: ``(X, Y)`` batches, generated beforehand so that data costs no step time.
        device, lr_start, lr_end: as in ``setup_training``.
        precisions: which of ``PRECISIONS`` to run, in order.
    """
    import copy

    results = {}
    for precision in precisions:
        model = copy.deepcopy(initial).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr_start)
        run = setup_training(model, optimizer, device=device, precision=precision,
                             lr_start=lr_start, lr_end=lr_end, cycle_size=max(len(batches), 2),
                             progress=False)  # fmt: skip
        run.trainer.run(batches, max_epochs=1)
        results[precision] = run
    return results


class BestMAE:
    """The best validation MAE so far, improved only by a relative margin (the article's rule).

    ``update(mae)`` accepts ``mae`` as the new best when ``1 - mae / best >= tolerance``, or, on
    the final epoch, whenever ``mae < best``. It has ``state_dict``/``load_state_dict``, so it is
    saved in checkpoints and restored on resume.

    Args:
        tolerance: the relative improvement that counts (article: 0.002, that is 0.2%).
    """

    def __init__(self, tolerance: float = 0.002) -> None:
        if not 0.0 <= tolerance < 1.0:
            raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
        self.tolerance = tolerance
        self.best = float("inf")

    def update(self, mae: float, final_epoch: bool = False) -> bool:
        """Records a validation MAE; True when it becomes the new best."""
        improved = (1.0 - mae / self.best) >= self.tolerance or (final_epoch and mae < self.best)
        if improved:
            self.best = float(mae)
        return improved

    def state_dict(self) -> dict[str, float]:
        return {"best": self.best, "tolerance": self.tolerance}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.best, self.tolerance = float(state["best"]), float(state["tolerance"])


def attach_resumable_checkpoints(
    training: Training,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    dirname: str | Path,
    tolerance: float = 0.002,
) -> dict:
    """Adds the article's checkpoints to a ``setup_training`` run that has validation data.

    After every epoch's validation, ``BestMAE`` is updated; then ``last_checkpoint_*.pt`` (model,
    optimizer, grad scaler, scheduler, trainer state with the epoch, best MAE) replaces the
    previous one, and when the MAE improved by the tolerance, ``best_model_*.pt`` keeps the model.
    Files are written atomically by rank 0 (Ignite's ``DiskSaver``).

    Args:
        training: from ``setup_training(..., val_data=...)``.
        model: the model to save; for ``DistributedDataParallel`` pass ``ddp_model.module``.
        optimizer: its optimizer.
        dirname: the checkpoint folder.
        tolerance: ``BestMAE``'s relative improvement.

    Returns:
        The objects a resume must restore (pass them to ``resume``), including the ``last``
        handler itself, so that a resumed run replaces the file it resumed from.

    Raises:
        ValueError: if the run has no validation.
    """
    if training.evaluator is None:
        raise ValueError("resumable checkpoints need validation data (setup_training val_data)")
    trainer = training.trainer
    tracker = BestMAE(tolerance)
    saver = DiskSaver(str(dirname), require_empty=False, atomic=True)
    best = Checkpoint({"model": model}, saver, filename_prefix="best", n_saved=1,
                      score_function=lambda engine: -tracker.best, score_name="neg_val_mae",
                      global_step_transform=global_step_from_engine(trainer))  # fmt: skip
    objects = {
        "model": model,
        "optimizer": optimizer,
        "scaler": trainer.scaler,
        "scheduler": training.scheduler,
        "trainer": trainer,
        "best_mae": tracker,
        "best_checkpoint": best,
    }
    last = Checkpoint(objects, saver, filename_prefix="last", n_saved=1, include_self=True,
                      global_step_transform=global_step_from_engine(trainer))  # fmt: skip

    @trainer.on(Events.EPOCH_COMPLETED)
    def track_and_save(engine: Engine) -> None:
        final = engine.state.epoch == engine.state.max_epochs
        if tracker.update(training.validation[-1]["mae"], final_epoch=final):
            best(engine)
        last(engine)

    training.checkpoint = last
    return objects | {"checkpointer": last}  # include_self: a resumed run replaces its file


def resume(path: str | Path, objects: dict, max_epochs: int) -> None:
    """Restores a ``last_checkpoint_*.pt`` into ``objects`` and lets training go on.

    The file is read with ``torch.load(..., weights_only=True)``: tensors and plain values only.
    The trainer's ``max_epochs`` is set to the new target, so that ``trainer.run(data)``
    continues from the saved epoch rather than starting over.

    Raises:
        ValueError: if ``max_epochs`` is not beyond the saved epoch.
    """
    state = torch.load(path, weights_only=True, map_location="cpu")
    Checkpoint.load_objects(objects, state)
    trainer = objects["trainer"]
    if max_epochs <= trainer.state.epoch:
        raise ValueError(
            f"the checkpoint is at epoch {trainer.state.epoch}: max_epochs must be larger, "
            f"got {max_epochs}"
        )
    trainer.state.max_epochs = max_epochs
