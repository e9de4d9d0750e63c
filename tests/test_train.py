"""helpers.train: the Ignite training learns, mixed precision steps on a CPU, checkpoints load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import train
from helpers.data import OptionDataSet
from helpers.model import Net


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


def test_mixed_precision_step_on_cpu_uses_bfloat16():
    assert train.autocast_dtype(torch.device("cpu")) == torch.bfloat16
    torch.manual_seed(0)
    model = Net(hidden=32, layers=2)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = train.make_trainer(model, optimizer, device="cpu", precision="mixed")
    state = trainer.run(fixed_problem(2), max_epochs=1)
    assert np.isfinite(state.output)
    assert not trainer.scaler.is_enabled()  # bfloat16 needs no loss scaling
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


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
