"""helpers.core.validate, and every public function's numeric and device arguments through it:
a bad tolerance, grid, size, seed or device is a ValueError that names it, never a hang, a wrong
answer or an error from inside NumPy or PyTorch (issue 31, findings 2 and 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core.domain import ARTICLE_MC_EXAMPLE, ARTICLE_NETWORK_EXAMPLE
from helpers.core.validate import check_device, check_integer, check_real
from helpers.inference import implied_volatility as iv
from helpers.inference import pricing, sensitivities
from helpers.localvol import load_market, price_basket
from helpers.mc import price_options


class Rising(torch.nn.Module):
    """P = S0 sigma + K r: rises with sigma, so every quote between its ends has one root."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, _, S0, sigma, _, r = x.unbind(-1)
        return S0 * sigma + K * r + self.dummy


ROW = list(ARTICLE_NETWORK_EXAMPLE)
ONE_MC = np.asarray(ARTICLE_MC_EXAMPLE)[0]
QUOTE = 120.0 * 0.35 + 110.0 * 0.05  # Rising's price at the row's sigma, 0.35


@pytest.mark.parametrize("value", [True, 2.0, "3", None, 1.5])
def test_an_integer_argument_refuses_what_is_not_an_integer(value):
    with pytest.raises(ValueError, match=r"n_paths must be an integer in \[1, 10\], got"):
        check_integer("n_paths", value, low=1, high=10)


@pytest.mark.parametrize("value", [0, 11, -1])
def test_an_integer_argument_refuses_values_outside_its_range(value):
    with pytest.raises(ValueError, match=rf"n_paths must be an integer in \[1, 10\], got {value}"):
        check_integer("n_paths", value, low=1, high=10)


def test_an_integer_argument_takes_numpy_integers():
    assert check_integer("grid", np.int64(7), low=2) == 7
    assert type(check_integer("grid", np.int32(7), low=2)) is int


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 0.5])
def test_a_real_argument_refuses_nan_infinities_and_values_outside_its_range(value):
    with pytest.raises(ValueError, match=r"tol must be a finite number in \(0, 0.4\] \(years\)"):
        check_real("tol", value, low=0.0, high=0.4, low_open=True, unit="years")


@pytest.mark.parametrize("value", [True, "0.1", None, [0.1]])
def test_a_real_argument_refuses_bools_strings_and_containers(value):
    with pytest.raises(ValueError, match="tol must be a finite number"):
        check_real("tol", value, low=0.0)


def test_a_real_argument_takes_ints_and_numpy_floats():
    assert check_real("tol", np.float32(0.25), low=0.0) == 0.25
    assert check_real("tol", 1, low=0.0) == 1.0


def test_the_cpu_is_always_a_device_and_nonsense_is_not():
    assert check_device("cpu") == torch.device("cpu")
    assert check_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ("gpu", "tpu:0", 3, None):
        with pytest.raises(ValueError, match="device"):
            check_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_a_value_error_that_says_so():
    with pytest.raises(ValueError, match=r"device='cuda' needs a CUDA GPU.*device='cpu'"):
        check_device("cuda")


# implied_vol: finding 2 ----------------------------------------------------------------------


@pytest.mark.parametrize("tol", [0.0, -1.0, float("nan"), float("inf"), 1e-20, 0.5, "1e-6", True])
def test_implied_vol_refuses_a_tolerance_that_would_hang_or_mislead(tol):
    # tol=0 and tol=-1 looped for ever, tol=nan returned the grid's bracket as the answer, and
    # tol=1e-20 is below float64's spacing near 0.4, which no bisection can reach
    with pytest.raises(ValueError, match=r"tol must be a finite number in \[1e-12, 0.4\]"):
        iv.implied_vol(Rising(), ROW, QUOTE, tol=tol)
    with pytest.raises(ValueError, match="tol must be"):
        iv.article_bisection(Rising(), ROW, QUOTE, tol=tol)


@pytest.mark.parametrize("grid", [1, 0, -5, 2.0, True, 10**9])
def test_implied_vol_refuses_a_grid_without_two_points(grid):
    with pytest.raises(ValueError, match=r"grid must be an integer in \[2, 100001\]"):
        iv.implied_vol(Rising(), ROW, QUOTE, grid=grid)
    with pytest.raises(ValueError, match="grid must be"):
        iv.sigma_scan(Rising(), ROW, grid=grid)


def test_implied_vol_at_the_smallest_tolerance_and_grid_ends():
    sigma = iv.implied_vol(Rising(), ROW, QUOTE, tol=iv.SMALLEST_TOL, grid=2)
    assert sigma == pytest.approx(0.35, abs=1e-6)


def test_implied_vol_names_a_quote_that_is_not_finite():
    with pytest.raises(ValueError, match=r"price\[1\] is nan"):
        iv.implied_vol(Rising(), [ROW, ROW], [QUOTE, float("nan")])
    with pytest.raises(ValueError, match="numeric array"):
        iv.implied_vol(Rising(), [["a"] * 6], QUOTE)


# sizes, seeds, devices and one row: finding 7 --------------------------------------------------


def test_one_row_of_six_is_one_option_for_every_pricer():
    one = price_options(ARTICLE_MC_EXAMPLE[0], 64, n_steps=12, seed=1, backend="numba")
    batch = price_options(ARTICLE_MC_EXAMPLE[:1], 64, n_steps=12, seed=1, backend="numba")
    assert one.price.shape == (1,)
    np.testing.assert_array_equal(one.price, batch.price)
    assert pricing.price(Rising(), ROW).shape == (1,)
    assert sensitivities.greeks(Rising(), ROW)["delta"].shape == (1,)
    assert iv.implied_vol(Rising(), ROW, QUOTE).shape == (1,)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, True, "0"])
def test_price_options_and_price_basket_refuse_the_same_seeds(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 18446744073709551615\]"):
        price_options(ARTICLE_MC_EXAMPLE, 8, seed=seed)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 18446744073709551615\]"):
        price_basket(load_market(), n_paths=8, n_steps=2, seed=seed, gradient=False)


@pytest.mark.parametrize("name,value", [("n_paths", 1), ("n_paths", 100.0), ("n_steps", 0),
                                        ("block_steps", True)])  # fmt: skip
def test_price_basket_refuses_sizes_as_price_options_does(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be an integer in \["):
        price_basket(load_market(), **{"n_paths": 8, "n_steps": 2, name: value}, gradient=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_price_basket_on_cuda_without_a_gpu_is_a_value_error():
    # it was torch's AssertionError ("Torch not compiled with CUDA enabled") from the first tensor
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        price_basket(load_market(), n_paths=8, n_steps=2, gradient=False, engine="torch",
                     device="cuda")  # fmt: skip
    with pytest.raises(ValueError, match="is not a device"):
        price_basket(load_market(), n_paths=8, n_steps=2, gradient=False, engine="torch",
                     device="gpu")  # fmt: skip


@pytest.mark.parametrize("rows", [0, -1, 2.5, True])
def test_slice_sizes_are_validated(rows):
    for function in (pricing.price, sensitivities.greeks, sensitivities.gradients):
        with pytest.raises(ValueError, match=r"rows_per_call must be an integer in \[1, inf\)"):
            function(Rising(), [ROW], rows_per_call=rows)


def _public_calls() -> list:
    """(call, expected message) pairs: each public function's numeric or device argument out of
    range, or of the wrong type, once."""
    import helpers
    from helpers.training.trainer import setup_training

    rng = np.random.default_rng(0)
    net = helpers.Net(hidden=4, layers=1)
    labelled = helpers.LabelledOptions(np.zeros((4, 6)), np.zeros(4), np.zeros((4, 6)))
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.tensor([ARTICLE_NETWORK_EXAMPLE], dtype=torch.float64)
    return [
        (lambda: helpers.sample_options(2.0, rng), "n must be an integer"),
        (lambda: helpers.sample_options(-1, rng), "n must be an integer"),
        (lambda: helpers.sobol_options(4, seed=-1), "seed must be an integer"),
        (lambda: helpers.sobol_options(4, seed=0, skip=1.5), "skip must be an integer"),
        (lambda: helpers.sample_barrier_corner(True, rng), "n must be an integer"),
        (lambda: helpers.mc_delta_gamma(ONE_MC, float("nan"), 100, 2), "h must be"),
        (lambda: helpers.mc_delta_gamma(ONE_MC, 1.0, 100, 2.0), "replications"),
        (lambda: helpers.mc_delta_gamma(np.zeros((2, 6)), 1.0, 100, 2), "x must be one option"),
        (lambda: helpers.mc_bumped_greeks(ONE_MC, 100, 1), "replications"),
        (lambda: helpers.mc_bumped_greeks(ONE_MC, 100, 2, fraction=0), "fraction"),
        (lambda: helpers.levy_price(x, T=0.0), "T must be a finite number"),
        (lambda: helpers.levy_price(x, n_steps=365.0), "n_steps must be an integer"),
        (lambda: helpers.ResidualPricer(n_steps=0), "n_steps must be an integer"),
        (lambda: helpers.Net(hidden=2.5), "hidden must be an integer"),
        (lambda: helpers.HomogeneousPricer(layers=0), "layers must be an integer"),
        (lambda: helpers.load_pretrained(device="cuda:7"), "device"),
        (lambda: helpers.FileOptionDataSet("nowhere", rank=1, world_size=1), "rank must be"),
        (lambda: helpers.fit_pricer(net, labelled, weight=float("nan"), epochs=1), "weight"),
        (lambda: helpers.fit_pricer(net, labelled, weight=0.0, epochs=1.0), "epochs"),
        (lambda: helpers.fit_pricer(net, labelled, weight=0.0, epochs=1, batch=5), "batch"),
        (
            lambda: helpers.fit_pricer(net, labelled, weight=0.0, epochs=1, batch=2, lr=(0, 1)),
            r"lr\[0\]",
        ),
        (
            lambda: setup_training(
                net, sgd, device="cpu", lr_start=-1.0, lr_end=1e-3, cycle_size=10
            ),
            "lr_start",
        ),
        (
            lambda: setup_training(
                net, sgd, device="cpu", lr_start=1e-3, lr_end=1e-4, cycle_size=1
            ),
            "cycle_size",
        ),
        (lambda: helpers.curves(net, [ROW, ROW], np.ones(3)), "base must be one option"),
    ]


def test_every_public_function_refuses_bad_numeric_and_device_arguments_by_name():
    """The audit of issue 31's shared validator: each call fails with a ValueError naming the
    argument, before any work (none of these calls computes anything)."""
    for call, message in _public_calls():
        with pytest.raises(ValueError, match=message):
            call()
