"""helpers.training.mixed_precision: the scaler's schedule, optimizer timing, Chapter 4's table."""

from __future__ import annotations

import pytest
import torch

from helpers.networks.mlp import Net
from helpers.training import mixed_precision, trainer


@pytest.fixture(scope="module")
def batches():
    generator = torch.Generator().manual_seed(0)
    return [(torch.rand(16, 6, generator=generator), torch.rand(16, generator=generator))] * 3


def test_grad_scaler_defaults_are_the_installed_schedule():
    defaults = mixed_precision.grad_scaler_defaults()
    scaler = torch.amp.GradScaler("cpu")
    assert defaults["init_scale"] == scaler.get_scale() == 2.0**16
    assert defaults["growth_factor"] == scaler.get_growth_factor()
    assert defaults["backoff_factor"] == scaler.get_backoff_factor()
    assert defaults["growth_interval"] == scaler.get_growth_interval()


def test_the_scale_halves_on_an_overflow_and_grows_after_the_interval():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", growth_interval=2)
    scales = []
    for factor in (1.0, 1.0, float("inf"), 1.0):
        optimizer.zero_grad()
        scaler.scale(weight.sum() * factor).backward()
        scaler.step(optimizer)  # skipped where the gradient is not finite
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == [2.0**16, 2.0**17, 2.0**16, 2.0**16]


def test_apex_fused_optimizers_is_a_dict_of_classes():
    fused = mixed_precision.apex_fused_optimizers()
    assert isinstance(fused, dict)
    assert set(fused) <= set(mixed_precision.APEX_FUSED)


def test_optimizer_step_time_trains_a_copy_and_times_its_steps(batches):
    initial = Net(hidden=8)
    before = [p.detach().clone() for p in initial.parameters()]
    seconds = mixed_precision.optimizer_step_time(
        initial, torch.optim.Adam, batches, device="cpu", lr_start=1e-3, lr_end=1e-4
    )
    assert seconds > 0
    assert all(torch.equal(a, b) for a, b in zip(before, initial.parameters(), strict=True))
    with pytest.raises(ValueError, match="batches"):
        mixed_precision.optimizer_step_time(
            initial, torch.optim.Adam, [], device="cpu", lr_start=1e-3, lr_end=1e-4
        )


def test_precision_table_sets_this_run_beside_the_article(batches):
    results = trainer.compare_precisions(
        Net(hidden=8), batches, device="cpu", lr_start=1e-3, lr_end=1e-4, warmup=1
    )
    table = mixed_precision.precision_table(
        results["float32"], results["mixed"], device="cpu", batch=16, hidden=8, warmup=1
    ).data
    lines = table.splitlines()
    assert lines[0] == "|  | this run | article |"
    assert len(lines) == 2 + 8
    ratio = results["mixed"].timer.value() / results["float32"].timer.value()
    assert f"| ratio mixed / full | {ratio:.2f} | 0.67 |" in table
    assert "3, interleaved, after 1 warm-up" in table and "bfloat16" in table
    # the machine in full: the vector instructions say whether bfloat16 can pay on a CPU
    from helpers.core.machine import machine_line

    assert f"| machine | {machine_line()} | NVIDIA V100 |" in table
