"""helpers.export: the pricer in ONNX (float32 and int8), ONNX Runtime's prices, the refusals.

The int8 bounds below are measured against the float32 export (not against Monte Carlo) on the
same 512 options, with margin; they hold for any pricer of the shipped architecture trained
like it, and fail on gross errors (the closed form quantized, a wrong scale: errors of 1-100).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import export, pricing
from helpers.baseline import ResidualPricer, levy_price
from helpers.datagen import sha256
from helpers.domain import sample_options
from helpers.model import load_pretrained

INT8_BOUNDS = {  # variant: (mean, max) of |int8 - float32| over the 512 options, currency units
    "dynamic": (0.25, 1.5),  # measured 0.073, 0.45 (whole batch in one call)
    "static": (0.15, 1.5),  # measured 0.042, 0.48
    "static-float-ends": (0.08, 1.0),  # measured 0.022, 0.36
    "blockwise": (0.005, 0.1),  # measured 0.00088, 0.013
}


@pytest.fixture(scope="module")
def shipped() -> torch.nn.Module:
    return load_pretrained()


@pytest.fixture(scope="module")
def options() -> np.ndarray:
    return sample_options(512, np.random.default_rng(2024))


@pytest.fixture(scope="module")
def torch_prices(shipped, options) -> np.ndarray:
    return pricing.price(shipped, options)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shipped) -> dict:
    """The shipped pricer's float32 export and every int8 variant: ``{variant: path}``."""
    folder = tmp_path_factory.mktemp("onnx")
    paths = {"float32": export.export_onnx(shipped, folder / "pricer.onnx")}
    for variant in export.INT8_VARIANTS:
        paths[variant] = export.quantize_onnx(paths["float32"], folder / f"{variant}.onnx", variant)
    return paths


@pytest.fixture(scope="module")
def float_prices(exported, options) -> np.ndarray:
    return export.OnnxPricer(exported["float32"], threads=1).price(options)


def tiny_pricer(seed: int = 0) -> ResidualPricer:
    """A small residual pricer whose network is not zero (its last layer starts at zero)."""
    torch.manual_seed(seed)
    model = ResidualPricer(hidden=8, layers=2)
    torch.nn.init.normal_(model.residual.body[-1].weight, std=0.05)
    return model.eval()


def test_closed_form_with_float32_cdf_matches_levy_price_within_1e_4():
    # measured: 1.5e-5 at most on 3 x 512 options; bound: (m1 + K) x a few float32 roundings
    x = torch.tensor(sample_options(512, np.random.default_rng(1)), dtype=torch.float64)
    ours = levy_price(x, 1.0, 365, cdf_dtype=torch.float32)
    assert float((ours - levy_price(x)).abs().max()) < 1e-4


def test_onnx_float32_matches_pytorch_to_float_rounding(exported, options, torch_prices):
    # measured: at most 1.5e-5 (one float32 rounding of a price between 128 and 256);
    # allowed: 1e-4 in price units (6 roundings at 200) plus 1e-6 relative
    pricer = export.OnnxPricer(exported["float32"], threads=1)
    np.testing.assert_allclose(pricer.price(options), torch_prices, rtol=1e-6, atol=1e-4)


def test_onnx_batch_size_is_dynamic(exported, options, float_prices):
    pricer = export.OnnxPricer(exported["float32"], threads=1)
    one = pricer.price(options[0])
    assert one.shape == (1,) and one.dtype == np.float32
    seven = pricer.price(options[:7])
    np.testing.assert_allclose(seven, float_prices[:7], rtol=1e-6, atol=1e-4)
    assert pricer.price(np.zeros((0, 6))).shape == (0,)


def test_export_leaves_the_eager_pricer_returning_plain_tensors(exported, shipped, options):
    # tracing fills helpers.baseline's lru_cache of the series; export_onnx empties it after
    out = shipped(torch.tensor(options[:4]))
    assert type(out) is torch.Tensor


def test_sidecar_records_sha256_variant_and_source(exported, shipped):
    meta = json.loads(export.sidecar_path(exported["float32"]).read_text())
    assert meta["sha256"] == sha256(exported["float32"])
    assert meta["variant"] == "float32"
    assert meta["source"] == {"state_sha256": export.state_sha256(shipped)}
    int8 = json.loads(export.sidecar_path(exported["static"]).read_text())
    assert int8["float_model"]["sha256"] == meta["sha256"]
    assert int8["source"] == meta["source"]


@pytest.mark.parametrize("variant", export.INT8_VARIANTS)
def test_int8_prices_within_stated_bounds_of_float32(exported, options, float_prices, variant):
    prices = export.OnnxPricer(exported[variant], threads=1).price(options)
    gap = np.abs(prices - float_prices)
    mean_bound, max_bound = INT8_BOUNDS[variant]
    assert gap.mean() < mean_bound, (variant, gap.mean())
    assert gap.max() < max_bound, (variant, gap.max())


def test_only_the_network_is_quantized(exported):
    layers = export.network_nodes(exported["float32"])
    assert len(layers) == 5  # 4 hidden layers and the output layer of the shipped network
    for variant in export.INT8_VARIANTS:
        settings = json.loads(export.sidecar_path(exported[variant]).read_text())["settings"]
        ends = variant in ("static-float-ends", "blockwise")
        assert settings["layers_quantized"] == (layers[1:-1] if ends else layers)
        assert export.OnnxPricer(exported[variant]).quantized


def test_static_int8_price_of_an_option_does_not_depend_on_its_batch(exported, options):
    pricer = export.OnnxPricer(exported["static"], threads=1)
    alone = np.concatenate([pricer.price(row) for row in options[:16]])
    np.testing.assert_allclose(alone, pricer.price(options)[:16], rtol=0, atol=1e-5)


def test_dynamic_int8_price_of_an_option_depends_on_its_batch(exported, options):
    # the activations' range is the batch's: the same option gets another price (0.39 measured)
    pricer = export.OnnxPricer(exported["dynamic"], threads=1)
    alone = np.concatenate([pricer.price(row) for row in options[:16]])
    assert np.abs(alone - pricer.price(options)[:16]).max() > 1e-3


def test_onnx_pricer_refuses_bad_input_like_pricing_price(exported, shipped):
    pricer = export.OnnxPricer(exported["blockwise"], threads=1)
    bad = [
        np.array([[110.0, 100.0, 120.0, np.nan, 0.1, 0.05]]),  # not finite
        np.array([[110.0, 100.0, 120.0, 0.9, 0.1, 0.05]]),  # sigma outside [0, 0.4]
        np.zeros((3, 5)),  # wrong shape
    ]
    for X in bad:
        with pytest.raises(ValueError) as ours:
            pricer.price(X)
        with pytest.raises(ValueError) as theirs:
            pricing.price(shipped, X)
        assert str(ours.value) == str(theirs.value)
    with pytest.warns(UserWarning, match="extrapolating"):
        assert pricer.price(bad[1], allow_outside=True).shape == (1,)


def test_missing_model_file_is_a_value_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.onnx"
    with pytest.raises(ValueError, match="nowhere.onnx"):
        export.OnnxPricer(path)


def test_corrupted_model_file_is_a_value_error_naming_it(tmp_path, exported):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx model")
    with pytest.raises(ValueError, match="garbage.onnx is not a valid ONNX model"):
        export.OnnxPricer(garbage)
    changed = tmp_path / "changed.onnx"  # valid ONNX, but not the file its sidecar recorded
    changed.write_bytes(exported["float32"].read_bytes())
    meta = json.loads(export.sidecar_path(exported["static"]).read_text())
    export.sidecar_path(changed).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="changed.onnx does not match the SHA-256"):
        export.OnnxPricer(changed)
    export.sidecar_path(changed).write_text("{not json")
    with pytest.raises(ValueError, match="changed.onnx.json"):
        export.OnnxPricer(changed)


def test_onnx_pricer_refuses_greeks(exported, options):
    pricer = export.OnnxPricer(exported["blockwise"])
    with pytest.raises(ValueError, match="Greeks from the float PyTorch model"):
        pricer.greeks(options[:2])
    with pytest.raises(ValueError, match="blockwise ONNX model"):
        export.refuse_quantized_greeks(pricer)


def test_refuse_quantized_greeks_finds_fake_and_real_quantization():
    model = tiny_pricer()
    export.refuse_quantized_greeks(model)  # a float model: no refusal
    with pytest.raises(ValueError, match="FakeQuantizedLinear.*finite differences"):
        export.refuse_quantized_greeks(export.fake_quantized(model))
    observed = torch.nn.Sequential(torch.nn.Linear(6, 1), torch.ao.quantization.FakeQuantize())
    with pytest.raises(ValueError, match="FakeQuantize"):
        export.refuse_quantized_greeks(observed)


def test_helpers_greeks_refuses_quantized_models_before_anything_else(exported, options):
    from helpers import greeks

    fake = export.fake_quantized(tiny_pricer())
    for function in (greeks.gradients, greeks.hessians, greeks.greeks):
        with pytest.raises(ValueError, match="finite differences"):
            function(fake, options[:2])
        with pytest.raises(ValueError, match="blockwise ONNX model"):
            function(export.OnnxPricer(exported["blockwise"]), options[:2])
    assert np.isfinite(greeks.greeks(tiny_pricer(), options[:2])["delta"]).all()


def test_qat_finetune_returns_a_float_model_whose_int8_export_prices(tmp_path):
    model = tiny_pricer()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X = sample_options(256, np.random.default_rng(3))
    y = pricing.price(model, X) + np.random.default_rng(4).normal(0, 0.1, len(X))
    tuned = export.qat_finetune(model, X, y, epochs=2, batch=64, lr=1e-3)
    assert export.quantization_in(tuned) is None  # fake quantization removed
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    assert not torch.equal(tuned.residual.body[-1].weight, model.residual.body[-1].weight)
    path = export.export_onnx(tuned, tmp_path / "qat.onnx")
    int8 = export.quantize_onnx(
        path, tmp_path / "qat.int8.onnx", "static-float-ends", calibration=X
    )
    prices = export.OnnxPricer(int8, threads=1).price(X[:32])
    assert prices.shape == (32,) and np.isfinite(prices).all()


def test_qat_finetune_refuses_mismatched_data():
    X = sample_options(8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        export.qat_finetune(tiny_pricer(), X, np.zeros(7))
    with pytest.raises(ValueError, match="epochs"):
        export.qat_finetune(tiny_pricer(), X, np.zeros(8), epochs=0)


def test_quantize_onnx_refuses_an_unknown_variant(exported, tmp_path):
    with pytest.raises(ValueError, match="unknown int8 variant 'int4'"):
        export.quantize_onnx(exported["float32"], tmp_path / "x.onnx", "int4")


def test_options_per_second_is_a_positive_rate(exported, options):
    pricer = export.OnnxPricer(exported["float32"], threads=1)
    assert export.options_per_second(pricer.price, options[:10], repeats=2) > 0
    with pytest.raises(ValueError, match="repeats"):
        export.options_per_second(pricer.price, options[:10], repeats=0)


def test_command_line_writes_both_models_and_their_sidecars(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    torch.save(tiny_pricer().state_dict(), folder / "pricer.pt")
    architecture = {"kind": "residual", "hidden": 8, "layers": 2, "activation": "elu"}
    meta = {
        "file": "pricer.pt",
        "sha256": sha256(folder / "pricer.pt"),
        "architecture": architecture,
    }
    (folder / "pricer.json").write_text(json.dumps(meta))
    out = tmp_path / "out"
    export.main(["--out", str(out), "--model-dir", str(folder)])
    X = sample_options(64, np.random.default_rng(5))
    expected = pricing.price(load_pretrained(folder=folder), X)
    for name, variant, tolerance in (
        ("pricer.onnx", "float32", 1e-4),
        ("pricer.int8.onnx", export.RECOMMENDED_INT8, 0.5),  # a sanity check: 0.07 measured
    ):
        sidecar = json.loads(export.sidecar_path(out / name).read_text())
        assert sidecar["variant"] == variant
        assert sidecar["source"]["sha256"] == meta["sha256"]
        prices = export.OnnxPricer(out / name, threads=1).price(X)
        np.testing.assert_allclose(prices, expected, rtol=1e-6, atol=tolerance)
    assert "pricer.int8.onnx" in capsys.readouterr().out
