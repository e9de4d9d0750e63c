"""The Ignite training used by every chapter and script: one place, device-agnostic.

``setup_training`` wires the pieces the article uses, with Ignite's own handlers:

* an ``Engine`` whose update step is MSE loss and an optimizer step, in full or mixed precision
  (``torch.amp``: float16 autocast with a ``GradScaler`` on CUDA, bfloat16 autocast on a CPU);
* ``CosineAnnealingScheduler`` on the learning rate, stepped every iteration;
* ``Timer(average=True)`` for the mean time of an update step over the latest epoch (data
  loading and every other handler excluded; on CUDA the device is synchronised first);
* ``ProgressBar`` (tqdm) with the running loss;
* an evaluator with ``MeanAbsoluteError`` and ``Loss`` (MSE), run on validation data after every
  epoch, and a ``Checkpoint`` that keeps the model with the best validation MAE.

Checkpoints are written with ``KeepUntilReplacedSaver``, so a complete one exists at every
moment, also when the process is killed while it writes the next (``latest_checkpoint`` finds
it). Nothing here assumes CUDA: the device comes in as an argument.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ignite.distributed as idist
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

from ..core.validate import check_device, check_integer, check_real

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
        timer: Ignite ``Timer``; ``timer.value()`` is the mean update-step time in seconds over
            the latest epoch (it restarts at every epoch, so the first epoch's warm-up costs
            leave a multi-epoch run's figure).
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
        ValueError: a checkpoint folder without validation data, ``cycle_size < 2``, a
            learning rate that is not positive, a device this machine lacks.
    """
    if checkpoint_dir is not None and val_data is None:
        raise ValueError(
            "checkpoint_dir needs val_data: the checkpoint keeps the best validation MAE"
        )
    cycle_size = check_integer("cycle_size", cycle_size, low=2)
    lr_start = check_real("lr_start", lr_start, low=0.0, low_open=True)
    lr_end = check_real("lr_end", lr_end, low=0.0, low_open=True)
    device = check_device(device)
    trainer = make_trainer(model, optimizer, device=device, precision=precision)
    scheduler = CosineAnnealingScheduler(optimizer, "lr", lr_start, lr_end, cycle_size)
    trainer.add_event_handler(Events.ITERATION_STARTED, scheduler)
    device = torch.device(device)
    if device.type == "cuda":
        # CUDA work is asynchronous: the CuPy kernels that label a streamed batch may still be
        # running when the step starts, and would be billed to it. Wait for them first.
        trainer.add_event_handler(
            Events.GET_BATCH_COMPLETED, lambda engine: torch.cuda.synchronize(device)
        )
    timer = Timer(average=True)
    timer.attach(
        trainer,
        start=Events.EPOCH_STARTED,
        resume=Events.ITERATION_STARTED,
        pause=Events.ITERATION_COMPLETED,
        step=Events.ITERATION_COMPLETED,
    )
    # Ignite's Timer.reset (the start event) leaves the timer running, so the epoch's first batch
    # fetch, and the EPOCH_STARTED handlers attached below (set_epoch), would count as part of
    # the first step. Pausing right after the reset (handlers of one event run in the order they
    # were added) times the update steps only: from ITERATION_STARTED to ITERATION_COMPLETED,
    # the step ending with ``loss.item()``, which waits for the device.
    trainer.add_event_handler(Events.EPOCH_STARTED, timer.pause)
    training = Training(trainer=trainer, timer=timer, scheduler=scheduler)
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: training.losses.append(engine.state.output)
    )
    if train_data is not None and hasattr(train_data, "set_epoch"):
        trainer.add_event_handler(
            Events.EPOCH_STARTED, lambda engine: train_data.set_epoch(engine.state.epoch)
        )
    if progress:
        # at most one update a second: under load, Chapter 3's thousands of updates left
        # nbval waiting past its 5 s for the cell's last message (a CI failure)
        ProgressBar(persist=False, mininterval=1.0).attach(
            trainer, output_transform=lambda loss: {"loss": loss}
        )
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
                KeepUntilReplacedSaver(checkpoint_dir),
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
    warmup: int = 3,
) -> dict[str, Training]:
    """Trains a copy of ``initial`` on the same ``batches`` once per precision, for one epoch,
    timing the precisions fairly against each other.

    Each copy starts from the same weights with a fresh Adam and the same cosine schedule, so
    the runs differ only in precision; ``result[p].timer.value()`` is the mean update step.
    Three things keep the timing fair:

    * **warm-up**: before anything is timed, each precision runs ``warmup`` steps on a
      throw-away copy of the network and optimizer, so one-off costs (kernel selection, the
      allocator's first blocks, lazy initialisation) are paid outside the timed runs and not
      by whichever precision happens to go first;
    * **interleaving**: the timed runs take turns step by step (one float32 step, one mixed
      step, on the same batch), the order swapping at every batch, so that a machine that
      slows down or speeds up meanwhile (other processes, clocks, a busy shared CPU) weighs on
      both alike. Each run is an Ignite engine interrupted after every iteration and resumed
      with ``run`` (Ignite >= 0.5), so its ``Timer``, losses and state are the usual ones;
    * **synchronisation**: on CUDA the device is synchronised before every timed step (and the
      step ends with ``loss.item()``), so no asynchronous work crosses from one run to the other.

    Args:
        initial: the network to copy (left untouched, also on the device it is on).
        batches: ``(X, Y)`` batches, generated beforehand so that data costs no step time.
        device, lr_start, lr_end: as in ``setup_training``.
        precisions: which of ``PRECISIONS`` to run.
        warmup: untimed steps per precision before timing, ``>= 0`` (on the first batches).

    Returns:
        ``{precision: Training}`` in the order of ``precisions``, each after one full epoch.

    Raises:
        ValueError: no batches, a negative ``warmup`` or an unknown precision.
    """
    if len(batches) < 1:
        raise ValueError("batches must hold at least one (X, Y) batch")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 steps, got {warmup}")
    for precision in precisions:
        _check_precision(precision)
    device = torch.device(device)

    def fresh_copy() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = copy.deepcopy(initial).to(device)
        return model, torch.optim.Adam(model.parameters(), lr=lr_start)

    for precision in precisions:
        if warmup:
            trainer = make_trainer(*fresh_copy(), device=device, precision=precision)
            trainer.run(batches, max_iters=warmup)
    if device.type == "cuda":
        torch.cuda.synchronize(device)

    results = {}
    for precision in precisions:
        model, optimizer = fresh_copy()
        run = setup_training(model, optimizer, device=device, precision=precision,
                             lr_start=lr_start, lr_end=lr_end, cycle_size=max(len(batches), 2),
                             progress=False)  # fmt: skip
        run.trainer.add_event_handler(Events.ITERATION_COMPLETED, Engine.interrupt)
        results[precision] = run
    order = list(precisions)
    for _ in range(len(batches)):
        for precision in order:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            results[precision].trainer.run(batches, max_epochs=1)
        order.reverse()
    for precision, run in results.items():  # the last resume ends the epoch (EPOCH_COMPLETED)
        state = run.trainer.run(batches, max_epochs=1)
        if state.iteration != len(batches) or state.epoch != 1:
            raise RuntimeError(f"the {precision} run stopped at iteration {state.iteration}")
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


class KeepUntilReplacedSaver(DiskSaver):
    """Ignite's atomic ``DiskSaver``, deleting a checkpoint only once its successor is on disk.

    With ``n_saved=1`` Ignite's ``Checkpoint`` calls the saver's ``remove(old)`` *before* it
    saves the new file, and ``DiskSaver`` deletes at once. A process killed in between (SIGKILL,
    the out-of-memory killer, a preempted node), which is while the new file is being written,
    leaves no checkpoint at all: the one thing a checkpoint is for. This saver's ``remove`` only
    notes the name; the file goes after the next successful save of the same kind of checkpoint
    (the same ``basename``, such as ``last_checkpoint`` or ``best_model``). So after every save
    exactly one file of each kind remains, as with ``DiskSaver``, and at every moment at least
    one complete file exists: two for the instant between the new file's atomic rename and the
    old one's deletion (``latest_checkpoint`` picks the newer).

    Writes are atomic (a temporary file in ``dirname``, then renamed), by rank
    ``save_on_rank`` only; an existing folder is fine (``require_empty=False``), so a resumed run
    writes where it left off.

    Args:
        dirname: the checkpoint folder, created if missing.
        save_on_rank: the distributed rank that writes and deletes files.
    """

    def __init__(self, dirname: str | Path, *, save_on_rank: int = 0) -> None:
        super().__init__(str(dirname), atomic=True, require_empty=False, save_on_rank=save_on_rank)
        self._pending: list[str] = []

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        super().__call__(checkpoint, filename, metadata)  # raises if writing fails: keep the old
        basename = metadata["basename"] if metadata else ""
        replaced = [old for old in self._pending if old.startswith(basename)]
        self._pending = [old for old in self._pending if old not in replaced]
        for old in replaced:
            # a file of the same name was just overwritten atomically: it is the new one
            if old != filename and idist.get_rank() == self.save_on_rank:
                (self.dirname / old).unlink(missing_ok=True)

    def remove(self, filename: str) -> None:
        """Defers the deletion of ``filename`` until the next successful save of its kind."""
        self._pending.append(filename)


def latest_checkpoint(dirname: str | Path) -> Path | None:
    """The ``last_checkpoint_<epoch>.pt`` in ``dirname`` with the highest epoch, or None.

    ``attach_resumable_checkpoints`` leaves one such file after every epoch. A process killed
    in the instant after a new one was renamed into place and before the old one was deleted
    leaves two, both complete: the higher epoch is where to resume. Ignite's temporary files
    (``tmp*``, from an interrupted atomic write) never match. A missing folder gives None.

    Example:
        >>> latest_checkpoint("no/such/folder") is None
        True
    """
    found = {}
    for path in Path(dirname).glob("last_checkpoint_*.pt"):
        epoch = path.stem.removeprefix("last_checkpoint_")
        if epoch.isdigit():
            found[int(epoch)] = path
    return found[max(found)] if found else None


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
    Files are written atomically by rank 0, and a replaced file is deleted only after its
    successor is complete (``KeepUntilReplacedSaver``), so a run killed at any moment leaves a
    checkpoint to resume from: ``latest_checkpoint(dirname)``.

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
    best = Checkpoint({"model": model}, KeepUntilReplacedSaver(dirname), filename_prefix="best",
                      n_saved=1,
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
    last = Checkpoint(objects, KeepUntilReplacedSaver(dirname), filename_prefix="last", n_saved=1,
                      include_self=True,
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
