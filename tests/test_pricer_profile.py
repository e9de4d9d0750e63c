"""The shipped pricer's profile (helpers.benchmark.pricer_profile): its pieces are the ones the
pricer computes with, every time is a positive finite number, the table has a row per batch,
and the matrix-product ceiling is measured in both dtypes. Small sizes: correctness, not speed."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
import torch

from helpers.benchmark import pricer_profile
from helpers.benchmark.pricer_profile import (
    matmul_ceiling,
    pricer_pieces,
    profile_lines,
    profile_pricer,
    profile_table,
)
from helpers.core.config import DATA_DIR
from helpers.data.test_set import load_test_set
from helpers.networks.homogeneous import extra_input_columns
from helpers.networks.loading import load_pretrained
from helpers.networks.mlp import Net

BATCHES = (1, 64)


@pytest.fixture(scope="module")
def model():
    return load_pretrained()


@pytest.fixture(scope="module")
def options() -> np.ndarray:
    return load_test_set(DATA_DIR)[0]


@pytest.fixture(scope="module")
def profile(model, options) -> dict:
    return profile_pricer(model, options, batches=BATCHES, threads=1, repeats=2)


@pytest.fixture(scope="module")
def ceiling() -> dict:
    return matmul_ceiling(n=256, threads=1, repeats=2)


def _times(row: dict) -> list[float]:
    named = ["whole_s", "closed_form_s", "extra_inputs_s", "extra_input_columns_s", "network_s"]
    return [row[name] for name in named] + list(row["layers_s"])


def test_every_time_is_positive_and_finite_and_each_piece_below_20x_the_whole(profile):
    assert list(profile["batches"]) == [str(b) for b in BATCHES]
    for row in profile["batches"].values():
        times = _times(row)
        assert len(row["layers_s"]) == 5  # 4 hidden ELU layers and the output layer
        assert all(math.isfinite(t) and t > 0 for t in times)
        assert all(t < 20 * row["whole_s"] for t in times[1:])  # sanity, not speed
        assert math.isfinite(row["network_gflops"]) and row["network_gflops"] > 0


def test_the_network_work_is_2_in_out_per_linear_layer(profile):
    # 6 columns + 3 extra inputs, less K, B, S0 for the two ratios: 8 inputs; then 4 x 256.
    expected = 2 * (8 * 256 + 3 * 256 * 256 + 256 * 1)
    assert profile["flop_per_option"] == expected
    assert [layer[:2] for layer in profile["layers"]] == [
        [8, 256], [256, 256], [256, 256], [256, 256], [256, 1]
    ]  # fmt: skip
    for batch, row in profile["batches"].items():
        assert row["flop_per_option"] == expected
        assert row["network_gflops"] == pytest.approx(
            expected * int(batch) / row["network_s"] / 1e9
        )


def test_the_profile_is_json_ready_and_restores_the_threads(model, options):
    before = torch.get_num_threads()
    result = profile_pricer(model, options, batches=(3,), threads=1, repeats=1)
    assert torch.get_num_threads() == before
    assert result["threads"] == 1
    assert json.loads(json.dumps(result)) == result


def test_the_pieces_in_sequence_give_the_pricer_to_1e_6(model, options):
    pieces = pricer_pieces(model)
    x = torch.as_tensor(options, dtype=torch.float32)
    with torch.no_grad():
        closed = pieces.closed_form(x)
        h = pieces.network_inputs(x)
        correction = pieces.network(h).squeeze(-1)
        layered = h
        for layer in pieces.layers:
            layered = layer(layered)
        # The level K + S0, the sum and the floor at zero are written inline in
        # HomogeneousPricer.forward and ResidualPricer.forward (no function to call): the test
        # writes them again to compose the pieces.
        level = x[:, 0] + x[:, 2]
        composed = (closed + level * correction).clamp_min(0.0)
        price = model(x)
        extra = pieces.extra_inputs(x)
    scale = float(price.abs().max())
    torch.testing.assert_close(composed, price, rtol=1e-6, atol=1e-6 * scale)
    torch.testing.assert_close(layered.squeeze(-1), correction, rtol=0.0, atol=0.0)
    # The extra inputs piece is what the network sees in its last columns.
    assert extra.shape == (len(x), 3)
    torch.testing.assert_close(h[:, -3:], extra, rtol=0.0, atol=0.0)
    torch.testing.assert_close(extra, extra_input_columns(x, model.residual.extra_inputs))


def test_profile_table_has_one_row_per_batch(profile, ceiling):
    text = profile_table(profile, ceiling).data
    lines = text.splitlines()
    assert len(lines) == 2 + len(BATCHES)
    assert lines[0].startswith("| batch | whole ms | closed form ms")
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| 1", "| 64"]


def test_profile_lines_hold_the_table_and_the_ceiling(profile, ceiling):
    section = profile_lines({"profile": profile, "ceiling": ceiling})
    assert section[0] == "### Where the shipped pricer's time goes (Chapter 12)"
    assert profile_table(profile, ceiling).data in section
    assert section[-3].startswith("Matrix-product ceiling")
    assert "float32" in section[-3] and "bfloat16" in section[-3]
    assert section[-1].startswith("The network at a batch of 64") and "goal 30%" in section[-1]


def test_matmul_ceiling_is_positive_in_both_dtypes(ceiling):
    assert ceiling["n"] == 256 and ceiling["threads"] == 1
    for dtype in ("float32", "bfloat16"):
        assert math.isfinite(ceiling[dtype]) and ceiling[dtype] > 0
        assert ceiling["n_by_dtype"][dtype] == 256
    assert "errors" not in ceiling


def test_a_product_too_slow_at_n_is_measured_smaller():
    result = matmul_ceiling(n=1024, dtypes=("float32",), threads=1, repeats=1, max_call_s=1e-6)
    assert result["n_by_dtype"]["float32"] == pricer_profile.PROBE_SIZE
    assert result["float32"] > 0


def test_bad_arguments_are_refused_by_name(model, options):
    with pytest.raises(ValueError, match="X"):
        profile_pricer(model, options[:, :5])
    with pytest.raises(ValueError, match="batches"):
        profile_pricer(model, options, batches=(0,))
    with pytest.raises(ValueError, match="model"):
        pricer_pieces(Net(hidden=4, layers=1))
    with pytest.raises(ValueError, match="dtypes"):
        matmul_ceiling(n=8, dtypes=("float31",))
    with pytest.raises(ValueError, match="n"):
        matmul_ceiling(n=0)


def test_the_module_examples_run():
    failures, tried = doctest.testmod(pricer_profile, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
