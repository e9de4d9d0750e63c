"""helpers.training.trainer: the Ignite training learns, mixed precision really runs in 16 bits,
the timer
times update steps only, precisions are compared on the same batches, and checkpoints resume
exactly and survive a save that dies midway."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from ignite.handlers import Checkpoint, global_step_from_engine

from helpers.data.streaming import OptionDataSet
from helpers.networks.mlp import Net
from helpers.training import trainer as train


def fixed_problem(n_batches: int = 8, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Small labelled batches, generated once so every test trains on the same data."""
    return list(OptionDataSet(n_batches, n_paths=64, batch=64, seed=seed, device="cpu", n_steps=12))


def test_short_training_run_cuts_the_loss_below_a_fifth_of_its_start():
    torch.manual_seed(0)
    data = fixed_problem()
    model = Net(hidden=64, layers=3)
    optimizer = torch.optim.Adam(model.parameters())
    run = train.setup_training(model, optimizer, device="cpu", lr_start=1e-2, lr_end=1e-4,
                               cycle_size=8 * 30, progress=False)  # fmt: skip
    run.trainer.run(data, max_epochs=30)
    assert len(run.losses) == 8 * 30
    start, end = np.mean(run.losses[:8]), np.mean(run.losses[-8:])
    assert end < 0.2 * start, (start, end)
    assert run.timer.value() > 0


def mixed_step_dtypes(device: str, precision: str = "mixed") -> tuple[list, Engine]:
    """Trains 2 steps and records the dtype of the first hidden Linear's output at each one."""
    torch.manual_seed(0)
    model = Net(hidden=32, layers=2).to(device)
    before = [p.detach().clone() for p in model.parameters()]
    dtypes = []
    model.hidden[0].register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = train.make_trainer(model, optimizer, device=device, precision=precision)
    state = trainer.run(fixed_problem(2), max_epochs=1)
    assert np.isfinite(state.output)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32
    return dtypes, trainer


def test_mixed_precision_step_on_cpu_runs_the_linear_layers_in_bfloat16():
    assert train.autocast_dtype(torch.device("cpu")) == torch.bfloat16
    dtypes, trainer = mixed_step_dtypes("cpu")
    assert dtypes == [torch.bfloat16, torch.bfloat16]
    assert not trainer.scaler.is_enabled()  # bfloat16 needs no loss scaling
    full, _ = mixed_step_dtypes("cpu", precision="float32")
    assert full == [torch.float32, torch.float32]


@pytest.mark.gpu
def test_mixed_precision_step_on_cuda_runs_the_linear_layers_in_float16_with_a_scaler():
    assert train.autocast_dtype(torch.device("cuda")) == torch.float16
    dtypes, trainer = mixed_step_dtypes("cuda")
    assert dtypes == [torch.float16, torch.float16]
    assert trainer.scaler.is_enabled()  # float16 gradients underflow without loss scaling
    assert trainer.scaler.get_scale() > 1.0


class SlowBatches:
    """Fixed batches that take ``delay`` seconds each to produce, like a labelling dataset."""

    def __init__(self, batches: list, delay: float) -> None:
        self.batches, self.delay = batches, delay

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            time.sleep(self.delay)
            yield batch


def test_timer_times_update_steps_and_not_the_first_batch_of_an_epoch():
    model = Net(hidden=8, layers=1)
    optimizer = torch.optim.Adam(model.parameters())
    data = SlowBatches(fixed_problem(2), delay=0.5)
    run = train.setup_training(model, optimizer, device="cpu", lr_start=1e-3, lr_end=1e-5,
                               cycle_size=4, train_data=data, progress=False)  # fmt: skip
    run.trainer.add_event_handler(train.Events.EPOCH_STARTED, lambda engine: time.sleep(0.5))
    run.trainer.run(data, max_epochs=2)
    # a fetch or an epoch-start handler billed to a step would add 0.25 s or more to the mean
    assert run.timer.step_count == 2  # the mean is over the latest epoch
    assert 0 < run.timer.value() < 0.1, run.timer.value()


def test_scheduler_anneals_the_learning_rate():
    model = Net(hidden=8, layers=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    run = train.setup_training(model, optimizer, device="cpu", lr_start=1e-2, lr_end=1e-4,
                               cycle_size=4, progress=False)  # fmt: skip
    lrs = []
    run.trainer.add_event_handler(
        train.Events.ITERATION_COMPLETED, lambda e: lrs.append(optimizer.param_groups[0]["lr"])
    )
    run.trainer.run(fixed_problem(3), max_epochs=1)
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] < lrs[0]


def test_compare_precisions_trains_both_from_the_same_start_on_the_same_batches():
    torch.manual_seed(0)
    batches = fixed_problem(4)
    initial = Net(hidden=16, layers=2)
    before = copy.deepcopy(initial.state_dict())
    runs = train.compare_precisions(initial, batches, device="cpu", lr_start=1e-3, lr_end=1e-5,
                                    warmup=2)  # fmt: skip
    assert list(runs) == ["float32", "mixed"]
    for run in runs.values():
        assert run.timer.value() > 0 and run.timer.step_count == len(batches)
        assert len(run.losses) == len(batches) and run.trainer.state.epoch == 1
    for key, value in initial.state_dict().items():
        assert torch.equal(value, before[key]), f"compare_precisions changed initial's {key}"
    # interleaving and warm-up change nothing: the float32 run is a plain run from `initial`
    model = copy.deepcopy(initial)
    alone = train.setup_training(model, torch.optim.Adam(model.parameters(), lr=1e-3),
                                 device="cpu", lr_start=1e-3, lr_end=1e-5, cycle_size=4,
                                 progress=False)  # fmt: skip
    alone.trainer.run(batches, max_epochs=1)
    assert runs["float32"].losses == alone.losses
    # same start, same first batch: the two precisions' first losses differ by rounding only
    assert runs["mixed"].losses[0] == pytest.approx(runs["float32"].losses[0], rel=0.02)


def test_best_checkpoint_is_written_and_loads_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = Net(hidden=16, layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = train.setup_training(model, optimizer, device="cpu", lr_start=1e-3, lr_end=1e-5,
                               cycle_size=4, val_data=fixed_problem(2, seed=1),
                               checkpoint_dir=tmp_path, progress=False)  # fmt: skip
    run.trainer.run(fixed_problem(4), max_epochs=2)
    assert [v["epoch"] for v in run.validation] == [1, 2]
    files = list(tmp_path.glob("best_model_*.pt"))
    assert len(files) == 1
    state = torch.load(files[0], weights_only=True)
    fresh = Net(hidden=16, layers=2)
    fresh.load_state_dict(state)
    x = torch.rand(3, 6)
    torch.testing.assert_close(fresh(x), model(x))
    assert run.checkpoint.last_checkpoint is not None


@pytest.mark.parametrize("kwargs,match", [({"precision": "fp8"}, "precision"),
                                          ({"checkpoint_dir": "x"}, "needs val_data"),
                                          ({"cycle_size": 1}, "cycle_size")])  # fmt: skip
def test_bad_training_settings_are_refused(kwargs, match):
    model = Net(hidden=8, layers=1)
    optimizer = torch.optim.Adam(model.parameters())
    args = dict(device="cpu", lr_start=1e-3, lr_end=1e-5, cycle_size=4, progress=False)
    with pytest.raises(ValueError, match=match):
        train.setup_training(model, optimizer, **(args | kwargs))


def test_best_mae_needs_the_relative_tolerance_except_on_the_final_epoch():
    tracker = train.BestMAE(tolerance=0.01)
    assert tracker.update(10.0)  # anything beats no best at all
    assert not tracker.update(9.95)  # 0.5% better: below the 1% tolerance
    assert tracker.best == 10.0
    assert tracker.update(9.9)  # exactly 1% better
    assert tracker.best == 9.9
    assert not tracker.update(10.5, final_epoch=True)  # worse is never kept
    assert tracker.update(9.89, final_epoch=True)  # the final epoch keeps any improvement
    assert tracker.best == 9.89
    restored = train.BestMAE()
    restored.load_state_dict(tracker.state_dict())
    assert (restored.best, restored.tolerance) == (9.89, 0.01)


@pytest.mark.parametrize("tolerance", [-0.1, 1.0])
def test_best_mae_refuses_a_tolerance_outside_0_1(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        train.BestMAE(tolerance)


def resumable_run(model: Net, folder, val_data) -> tuple[train.Training, dict]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    run = train.setup_training(model, optimizer, device="cpu", lr_start=1e-2, lr_end=1e-4,
                               cycle_size=3, val_data=val_data, progress=False)  # fmt: skip
    return run, train.attach_resumable_checkpoints(run, model, optimizer, folder)


def test_resume_after_one_epoch_continues_exactly_like_an_unbroken_run(tmp_path):
    batches, val_data = fixed_problem(3), fixed_problem(2, seed=1)
    torch.manual_seed(0)
    initial = Net(hidden=16, layers=2)

    straight, straight_objects = resumable_run(copy.deepcopy(initial), tmp_path / "a", val_data)
    straight.trainer.run(batches, max_epochs=2)

    first, _ = resumable_run(copy.deepcopy(initial), tmp_path / "b", val_data)
    first.trainer.run(batches, max_epochs=1)
    torch.manual_seed(1)  # a different network: everything must come from the checkpoint
    resumed, objects = resumable_run(Net(hidden=16, layers=2), tmp_path / "b", val_data)
    train.resume(train.latest_checkpoint(tmp_path / "b"), objects, max_epochs=2)
    resumed.trainer.run(batches)

    assert resumed.trainer.state.epoch == 2 and resumed.losses == straight.losses[3:]
    for a, b in zip(straight_objects["model"].parameters(), objects["model"].parameters(),
                    strict=True):  # fmt: skip
        assert torch.equal(a, b)
    adam_a, adam_b = straight_objects["optimizer"].state_dict(), objects["optimizer"].state_dict()
    assert adam_a["param_groups"] == adam_b["param_groups"]  # the scheduler's lr included
    for key, state in adam_a["state"].items():
        for name, value in state.items():
            assert torch.equal(value, adam_b["state"][key][name]), (key, name)
    assert straight.scheduler.state_dict() == resumed.scheduler.state_dict()
    assert straight_objects["best_mae"].best == objects["best_mae"].best
    assert resumed.validation[-1] == straight.validation[-1]
    names = sorted(p.name for p in (tmp_path / "b").glob("*.pt"))
    assert names == sorted(p.name for p in (tmp_path / "a").glob("*.pt"))
    assert [n for n in names if n.startswith("last")] == ["last_checkpoint_2.pt"]


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint_complete(tmp_path, monkeypatch):
    model = Net(hidden=8, layers=1)
    engine = Engine(lambda engine, batch: None)
    saver = train.KeepUntilReplacedSaver(tmp_path)
    epoch = global_step_from_engine(engine)
    checkpoint = Checkpoint({"model": model, "trainer": engine}, saver, n_saved=1,
                                  filename_prefix="last", global_step_transform=epoch)  # fmt: skip
    engine.add_event_handler(train.Events.EPOCH_COMPLETED, checkpoint)
    on_disk_while_writing = []
    save = torch.save

    def dying_save(obj, file, **kwargs):
        on_disk_while_writing.append(sorted(p.name for p in tmp_path.glob("last_*")))
        if engine.state.epoch == 3:
            raise KeyboardInterrupt("killed while writing epoch 3")
        save(obj, file, **kwargs)

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        engine.run([0], max_epochs=3)
    # Ignite asked to remove the old file before each save; it stayed until the new one existed
    assert on_disk_while_writing == [[], ["last_checkpoint_1.pt"], ["last_checkpoint_2.pt"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint_2.pt"]  # no tmp file
    assert train.latest_checkpoint(tmp_path) == tmp_path / "last_checkpoint_2.pt"
    state = torch.load(tmp_path / "last_checkpoint_2.pt", weights_only=True)
    assert state["trainer"]["iteration"] == 2  # one batch an epoch: the end of epoch 2


def test_latest_checkpoint_takes_the_highest_epoch_not_the_last_name(tmp_path):
    assert train.latest_checkpoint(tmp_path) is None
    assert train.latest_checkpoint(tmp_path / "missing") is None
    for name in ("last_checkpoint_9.pt", "last_checkpoint_10.pt", "best_model_11.pt", "tmpab12"):
        (tmp_path / name).touch()
    assert train.latest_checkpoint(tmp_path) == tmp_path / "last_checkpoint_10.pt"
