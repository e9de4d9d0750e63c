"""The shipped model's loading checks, the test-set recipe, and the curve widgets."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from helpers.core.config import DATA_DIR
from helpers.core.domain import ARTICLE_NETWORK_EXAMPLE
from helpers.data import test_set
from helpers.inference import evaluation, pricing, widgets
from helpers.networks.loading import load_pretrained
from helpers.networks.mlp import Net
from helpers.training.recipe import TRAIN_SEED


@pytest.fixture
def shipped(tmp_path):
    """A model folder like data/: weights and a pricer.json with their SHA-256."""
    import hashlib

    torch.manual_seed(0)
    net = Net(hidden=8, layers=5)
    torch.save(net.state_dict(), tmp_path / "pricer.pt")
    digest = hashlib.sha256((tmp_path / "pricer.pt").read_bytes()).hexdigest()
    meta = {"file": "pricer.pt", "sha256": digest, "architecture": {"hidden": 8, "layers": 5}}
    (tmp_path / "pricer.json").write_text(json.dumps(meta))
    return tmp_path, net


def test_load_pretrained_checks_the_hash_and_returns_an_eval_model(shipped):
    folder, net = shipped
    model = load_pretrained(folder=folder)
    assert not model.training
    x = torch.rand(4, 6)
    torch.testing.assert_close(model(x), net(x))


def test_changed_weights_are_refused(shipped):
    folder, _ = shipped
    raw = bytearray((folder / "pricer.pt").read_bytes())
    raw[-10] ^= 0xFF
    (folder / "pricer.pt").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        load_pretrained(folder=folder)


def test_missing_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="pricer.json is missing"):
        load_pretrained(folder=tmp_path)


@pytest.mark.skipif(not (DATA_DIR / "pricer.json").exists(), reason="no shipped model yet")
def test_the_shipped_model_loads_and_prices_the_articles_example():
    model = load_pretrained()
    with torch.no_grad():
        price = model(torch.tensor([ARTICLE_NETWORK_EXAMPLE])).item()
    assert 10.0 < price < 30.0  # Monte Carlo says about 18.7


@pytest.mark.skipif(not (DATA_DIR / "pricer.json").exists(), reason="no shipped model yet")
def test_the_recorded_evaluation_is_what_the_shipped_model_measures():
    recorded = json.loads((DATA_DIR / "pricer.json").read_text())["evaluation"]
    model = load_pretrained()
    X, price, _ = test_set.load_test_set(DATA_DIR)
    error = np.abs(pricing.price(model, X) - price)
    assert recorded["test_mae"] == pytest.approx(error.mean(), abs=1e-5)
    assert recorded["test_max_error"] == pytest.approx(error.max(), abs=1e-5)
    assert recorded["fraction_priced_near_zero"] == (price < test_set.NEAR_ZERO).mean()
    point = recorded["article_point"]
    assert point["inputs"] == list(ARTICLE_NETWORK_EXAMPLE)
    assert point["network"] == pytest.approx(pricing.price(model, [point["inputs"]])[0], abs=1e-5)
    assert point["gap"] == pytest.approx(point["network"] - point["monte_carlo"], abs=1e-5)


def test_article_point_greeks_compare_the_network_with_adjoint_monte_carlo(shipped):
    folder, _ = shipped
    model = load_pretrained(folder=folder)
    reference = evaluation.reference_greeks(2_000)
    figures = evaluation.article_point_greeks(model, reference)
    assert figures["paths"] == 2_000 and set(evaluation.GREEK_TARGETS) <= set(figures)
    delta = figures["delta"]
    assert delta["monte_carlo"] == pytest.approx(reference.greeks["S0"][0], abs=1e-6)
    assert delta["gap"] == pytest.approx(delta["network"] - delta["monte_carlo"], abs=1e-5)
    assert delta["target_met"] == (abs(delta["gap"]) <= evaluation.GREEK_TARGETS["delta"])


@pytest.mark.skipif(not (DATA_DIR / "pricer.json").exists(), reason="no shipped model yet")
def test_the_shipped_pricer_maps_a_raw_batch_to_one_price_per_option():
    model = load_pretrained()
    assert isinstance(model, torch.nn.Module)
    X = test_set.load_test_set(DATA_DIR)[0][:7].astype(np.float32)
    with torch.no_grad():
        assert model(torch.from_numpy(X)).shape == (7,)


def test_test_set_recipe_round_trips_through_csv(tmp_path):
    path = test_set.make_test_set(tmp_path, n_options=6, paths=200)
    X, price, stderr = test_set.load_test_set(tmp_path)
    assert path.exists() and X.shape == (6, 6) and price.shape == stderr.shape == (6,)
    recipe = json.loads((tmp_path / "test_options.json").read_text())
    assert recipe["seed"] == test_set.TEST_SEED != TRAIN_SEED and recipe["paths"] == 200


@pytest.mark.skipif(not (DATA_DIR / "test_options.csv").exists(), reason="no shipped test set yet")
def test_the_shipped_test_set_is_high_precision():
    X, price, stderr = test_set.load_test_set(DATA_DIR)
    recipe = json.loads((DATA_DIR / "test_options.json").read_text())
    assert len(X) >= 500 and recipe["paths"] >= 2_000_000 and stderr.mean() < 0.01
    assert np.all(stderr >= 0) and np.all(price >= 0)


def test_plotly_figure_has_one_slider_step_per_case(shipped):
    folder, _ = shipped
    model = load_pretrained(folder=folder)
    fig = widgets.plotly_curves(model, ARTICLE_NETWORK_EXAMPLE, {"sigma": [0.1, 0.2], "r": [0.0]})
    assert len(fig.layout.sliders[0].steps) == 4  # the base case and three variations
    assert len(fig.data) == 4 * 3


def test_plotly_html_inlines_plotly_js_so_the_page_needs_no_network(shipped):
    folder, _ = shipped
    fig = widgets.plotly_curves(
        load_pretrained(folder=folder), ARTICLE_NETWORK_EXAMPLE, {"r": [0.0]}
    )
    html = widgets.plotly_html(fig)
    assert "<script src=" not in html  # nothing fetched: no CDN, no local file either
    assert "plotly.js v" in html and len(html) > 1_000_000  # the library itself, inlined


def test_interactive_curves_build_their_sliders(shipped):
    folder, _ = shipped
    box = widgets.interactive_curves(load_pretrained(folder=folder), ARTICLE_NETWORK_EXAMPLE)
    descriptions = {c.description for row in box.children[:2] for c in row.children}
    assert {"K", "B / K", "sigma", "mu", "r", "show"} == descriptions


def test_copying_the_data_folder_keeps_it_loadable(shipped, tmp_path):
    folder, _ = shipped
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    assert isinstance(load_pretrained(folder=target), Net)
