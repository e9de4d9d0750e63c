"""helpers.training.differential: the derivative loss and the homogeneous pricer (Chapter 9's
parts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core.domain import ARTICLE_NETWORK_EXAMPLE, sample_options
from helpers.networks.homogeneous import EXTRA_INPUTS, HomogeneousPricer, extra_input_columns
from helpers.training.differential import differential_loss, label_scales

ALL_EXTRA = tuple(EXTRA_INPUTS)


@pytest.fixture
def options() -> torch.Tensor:
    import numpy as np

    return torch.as_tensor(sample_options(64, np.random.default_rng(0), dtype=np.float64))


def teacher_labels(options: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact prices and derivatives of a random teacher network: labels a student can fit."""
    torch.manual_seed(seed)
    teacher = HomogeneousPricer(hidden=16, layers=2).double()
    x = options.clone().requires_grad_(True)
    price = teacher(x)
    (greeks,) = torch.autograd.grad(price.sum(), x)
    return price.detach(), greeks.detach()


@pytest.mark.parametrize("extra", [(), ALL_EXTRA])
def test_homogeneous_pricer_scales_with_strike_barrier_and_spot(options, extra):
    torch.manual_seed(0)
    pricer = HomogeneousPricer(hidden=32, layers=2, extra_inputs=extra).double()
    for factor in (0.5, 3.0):
        scaled = options.clone()
        scaled[:, :3] *= factor
        torch.testing.assert_close(pricer(scaled), factor * pricer(options), rtol=1e-12, atol=0)


@pytest.mark.parametrize("extra", [(), ALL_EXTRA])
def test_homogeneous_pricer_greeks_by_autograd_match_finite_differences(options, extra):
    torch.manual_seed(1)
    pricer = HomogeneousPricer(hidden=32, layers=2, activation="elu", extra_inputs=extra)
    pricer = pricer.double()
    x = options[:8].clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(pricer(x).sum(), x)
    h = 1e-6
    for j in range(6):
        step = torch.zeros(6, dtype=torch.float64)
        step[j] = h
        central = (pricer(options[:8] + step) - pricer(options[:8] - step)) / (2 * h)
        torch.testing.assert_close(gradient[:, j], central, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("extra", [(), ALL_EXTRA])
def test_zero_price_level_gives_a_zero_price_and_finite_gradient(extra):
    pricer = HomogeneousPricer(hidden=8, layers=1, extra_inputs=extra).double()
    x = torch.tensor([[0.0, 0.0, 0.0, 0.2, 0.1, 0.05]], dtype=torch.float64, requires_grad=True)
    price = pricer(x)
    (gradient,) = torch.autograd.grad(price.sum(), x)
    assert price.item() == 0.0 and torch.isfinite(gradient).all()


def test_extra_inputs_are_bounded_and_finite_at_the_domains_corners():
    # zero barrier, zero spot, zero volatility, all three, and the article's network example
    x = torch.tensor(
        [
            [110.0, 0.0, 120.0, 0.35, 0.1, 0.05],
            [110.0, 100.0, 0.0, 0.35, 0.1, 0.05],
            [110.0, 100.0, 120.0, 0.0, 0.1, 0.05],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            list(ARTICLE_NETWORK_EXAMPLE),
        ],
        dtype=torch.float64,
        requires_grad=True,
    )
    columns = extra_input_columns(x, ALL_EXTRA)
    (gradient,) = torch.autograd.grad(columns.sum(), x)
    assert torch.isfinite(columns).all() and torch.isfinite(gradient).all()
    barrier, strike, knock_out = columns.detach().T
    assert barrier.abs().max() <= 1 and strike.abs().max() <= 1
    assert knock_out.min() >= 0 and knock_out.max() <= 1
    assert barrier[0] > 1 - 1e-12 and knock_out[0] < 1e-12  # no barrier: never knocked out
    assert barrier[1] < -1 + 1e-12 and knock_out[1] == 1.0  # no spot: below the barrier
    assert 0 < barrier[4] < 1 and 0 < knock_out[4] < 1


def test_an_unknown_extra_input_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown extra inputs.*'moneyness'"):
        HomogeneousPricer(hidden=4, layers=1, extra_inputs=("moneyness",))


def test_gradient_term_is_zero_when_labels_equal_the_networks_gradient(options):
    torch.manual_seed(2)
    pricer = HomogeneousPricer(hidden=16, layers=2).double()
    x = options.clone().requires_grad_(True)
    price = pricer(x)
    (gradient,) = torch.autograd.grad(price.sum(), x)
    scales = label_scales(price.detach(), gradient)
    _, price_mse, gradient_mse = differential_loss(pricer, options, price.detach(), gradient,
                                                   1.0, scales)  # fmt: skip
    assert price_mse.item() == 0.0 and gradient_mse.item() < 1e-25
    _, _, wrong = differential_loss(pricer, options, price.detach(), gradient + 0.1, 1.0, scales)
    assert wrong.item() > 0.0


def test_a_short_differential_training_run_lowers_both_losses(options):
    # A teacher network provides exact prices and derivatives; a student learns both.
    price, greeks = teacher_labels(options, seed=3)
    scales = label_scales(price, greeks)
    student = HomogeneousPricer(hidden=16, layers=2).double()
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    _, first_price, first_gradient = differential_loss(student, options, price, greeks, 1.0,
                                                       scales)  # fmt: skip
    for _ in range(200):
        optimizer.zero_grad()
        total, _, _ = differential_loss(student, options, price, greeks, 1.0, scales)
        total.backward()
        optimizer.step()
    _, last_price, last_gradient = differential_loss(student, options, price, greeks, 1.0, scales)
    assert last_price < 0.5 * first_price and last_gradient < 0.5 * first_gradient


def test_bad_arguments_are_refused(options):
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        HomogeneousPricer(activation="relu")
    with pytest.raises(ValueError, match=r"hidden must be an integer in \[1"):
        HomogeneousPricer(hidden=0)
    pricer = HomogeneousPricer(hidden=4, layers=1).double()
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        differential_loss(
            pricer, options, options[:, 0], options, -1.0, label_scales(options[:, 0], options)
        )


def test_the_ignite_trainer_lowers_the_differential_loss(options):
    from ignite.engine import Events
    from torch.utils.data import DataLoader, TensorDataset

    from helpers.training.differential import make_differential_trainer

    price, greeks = teacher_labels(options, seed=4)
    data = TensorDataset(options, price, greeks)
    scales = label_scales(price, greeks)
    student = HomogeneousPricer(hidden=16, layers=2).double()
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    trainer = make_differential_trainer(student, optimizer, device="cpu", weight=1.0,
                                        scales=scales)  # fmt: skip
    losses = []
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: losses.append(e.state.output))
    trainer.run(DataLoader(data, batch_size=16, shuffle=True), max_epochs=40)
    assert losses[-1]["loss"] < 0.2 * losses[0]["loss"], (losses[0], losses[-1])


def test_sobol_options_continue_one_sequence_inside_the_domain():
    import numpy as np

    from helpers.core.domain import DOMAIN_HIGH, sobol_options

    X = sobol_options(64, seed=3)
    np.testing.assert_array_equal(X[32:], sobol_options(32, seed=3, skip=32))
    assert (X >= 0).all() and (X <= DOMAIN_HIGH).all() and (X[:, 1] <= X[:, 0]).all()
    with pytest.raises(ValueError, match="skip"):
        sobol_options(4, seed=3, skip=-1)


def fit_data(n: int = 256):
    import numpy as np

    from helpers.training.differential import LabelledOptions

    x = torch.as_tensor(sample_options(n, np.random.default_rng(1), dtype=np.float64))
    price, greeks = teacher_labels(x, seed=5)
    return LabelledOptions(x.float().numpy(), price.numpy(), greeks.numpy())


def test_fit_pricer_lowers_the_loss_and_reports_each_epoch():
    from helpers.networks.loading import make_pricer
    from helpers.training.differential import fit_pricer

    torch.manual_seed(0)
    model = make_pricer(hidden=16, layers=2)
    history = fit_pricer(model, fit_data(), weight=1.0, epochs=6, batch=32, lr=(3e-3, 1e-4),
                         validation=fit_data(64))  # fmt: skip
    assert [row["epoch"] for row in history] == list(range(1, 7))
    assert history[-1]["loss"] < history[0]["loss"] / 2
    assert history[-1]["mae"] < history[0]["mae"]


def test_fit_pricer_resumed_after_a_kill_ends_exactly_like_an_unbroken_run(tmp_path):
    from helpers.networks.loading import make_pricer
    from helpers.training.differential import fit_pricer

    data = fit_data()

    def train(folder, seed, log=None):
        torch.manual_seed(seed)
        model = make_pricer(hidden=8, layers=2)
        history = fit_pricer(model, data, weight=1.0, epochs=4, batch=64,
                             checkpoints=folder, log=log)  # fmt: skip
        return model, history

    def killed_after_two_epochs(line: str) -> None:
        if line.startswith("epoch 3,"):
            raise KeyboardInterrupt

    unbroken, history = train(tmp_path / "a", seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "b", seed=0, log=killed_after_two_epochs)
    resumed, resumed_history = train(tmp_path / "b", seed=1)  # the checkpoint's seed (0) wins
    for a, b in zip(unbroken.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [r["loss"] for r in resumed_history] == [r["loss"] for r in history]


def test_plain_fit_needs_no_derivative_labels_and_differential_fit_does():
    from helpers.networks.loading import make_pricer
    from helpers.training.differential import LabelledOptions, fit_pricer

    data = fit_data(64)
    prices_only = LabelledOptions(data.X, data.price)
    model = make_pricer("plain", hidden=8, layers=2, activation="softplus")
    assert len(fit_pricer(model, prices_only, weight=0.0, epochs=1, batch=32)) == 1
    with pytest.raises(ValueError, match="derivative labels"):
        fit_pricer(model, prices_only, weight=1.0, epochs=1, batch=32)
    with pytest.raises(ValueError, match="batch"):
        fit_pricer(model, data, weight=1.0, epochs=1, batch=65)


def test_a_pricer_with_extra_inputs_is_saved_and_loaded_as_the_shipped_one_is(tmp_path):
    import json

    from helpers.core.files import sha256
    from helpers.networks.loading import build_pricer, load_pretrained

    architecture = {"kind": "residual", "hidden": 8, "layers": 2, "activation": "elu",
                    "extra_inputs": ["barrier_distance", "knock_out_chance"]}  # fmt: skip
    torch.manual_seed(0)
    model = build_pricer(architecture)
    torch.save(model.state_dict(), tmp_path / "pricer.pt")
    meta = {"file": "pricer.pt", "sha256": sha256(tmp_path / "pricer.pt"),
            "architecture": architecture}  # fmt: skip
    (tmp_path / "pricer.json").write_text(json.dumps(meta))
    loaded = load_pretrained(folder=tmp_path)
    x = torch.rand(5, 6) * 100
    assert torch.equal(loaded(x), model(x)) and loaded(x).shape == (5,)
    with pytest.raises(ValueError, match="unknown pricer kind"):
        build_pricer({"kind": "cubic"})


def test_pretrain_records_extra_inputs_and_seed_and_ships_a_loadable_pricer(tmp_path):
    import json

    from helpers.data import generate as datagen
    from helpers.networks.loading import load_pretrained
    from helpers.training.recipe import train_model

    data = tmp_path / "data"
    datagen.generate_dataset(data, shards=3, options_per_shard=64, paths=16, seed=5, n_steps=8,
                     progress=False)  # fmt: skip
    extra = ("barrier_distance", "knock_out_chance")
    train_model(data, tmp_path / "out", epochs=1, hidden=8, batch=32, lr=(1e-3, 1e-4),
                kind="residual", layers=1, extra_inputs=extra, seed=3)  # fmt: skip
    meta = json.loads((tmp_path / "out" / "pricer.json").read_text())
    assert meta["architecture"]["extra_inputs"] == list(extra)
    assert meta["command"].endswith("--extra-inputs barrier_distance knock_out_chance --seed 3")
    with pytest.raises(ValueError, match="extra inputs need a homogeneous or residual"):
        train_model(data, tmp_path / "plain", epochs=1, hidden=8, batch=32, lr=(1e-3, 1e-4),
                    extra_inputs=extra)  # fmt: skip
    pricer = load_pretrained(folder=tmp_path / "out")
    assert pricer.residual.extra_inputs == extra
    assert pricer(torch.tensor([[110.0, 100.0, 120.0, 0.35, 0.1, 0.05]])).shape == (1,)


def test_pretrain_oversamples_a_second_dataset_and_records_how_it_was_made(tmp_path, monkeypatch):
    import json

    from helpers.data import generate as datagen
    from helpers.training import recipe
    from helpers.training.recipe import train_model

    data, corner = tmp_path / "data", tmp_path / "corner"
    small = dict(shards=2, options_per_shard=32, paths=16, n_steps=8, progress=False)
    datagen.generate_dataset(data, seed=5, **small)
    datagen.generate_dataset(corner, seed=6, control=True, region="barrier_corner", **small)
    seen = {}
    fit = recipe.fit_pricer

    def fit_and_see(model, train, **kwargs):
        seen["train"], seen["validation"] = train, kwargs["validation"]
        return fit(model, train, **kwargs)

    monkeypatch.setattr(recipe, "fit_pricer", fit_and_see)
    train_model(data, tmp_path / "out", epochs=1, hidden=8, batch=16, lr=(1e-3, 1e-4),
                kind="residual", layers=1, oversample=corner)  # fmt: skip
    # the training options are both datasets' training splits; validation stays data's
    X_data, _ = datagen.load_split(data, "train")
    X_corner, _ = datagen.load_split(corner, "train")
    np.testing.assert_array_equal(seen["train"].X, np.concatenate([X_data, X_corner]))
    np.testing.assert_array_equal(seen["validation"].X, datagen.load_split(data, "validation")[0])
    meta = json.loads((tmp_path / "out" / "pricer.json").read_text())
    assert meta["command"].endswith(f"--oversample {corner}")
    assert meta["oversample_data"]["region"] == "barrier_corner"
    assert meta["oversample_data_command"] == (
        f"python -m helpers.datagen --out {corner} --shards 2 --options-per-shard 32"
        " --paths 16 --seed 6 --steps 8 --control --region barrier_corner"
    )
