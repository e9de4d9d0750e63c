"""helpers.data.streaming.OptionDataSet: shapes, length, seeds, distinct streams, zero-copy
hand-over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core.domain import DOMAIN_HIGH
from helpers.data import streaming as data
from helpers.data.streaming import OptionDataSet, data_pointer, stream_labels, to_torch
from helpers.mc import cupy_backend, price_options


def small(**kwargs) -> OptionDataSet:
    args = dict(max_len=3, n_paths=64, batch=5, seed=15, device="cpu", n_steps=12)
    return OptionDataSet(**(args | kwargs))


def stacked(items) -> torch.Tensor:
    return torch.cat([torch.cat([x.ravel(), y]) for x, y in items])


def test_items_have_the_articles_shapes_and_float32():
    items = list(small())
    for x, y in items:
        assert x.shape == (5, 6) and y.shape == (5,)
        assert x.dtype == torch.float32 and y.dtype == torch.float32
        assert (x >= 0).all() and (x <= torch.tensor(DOMAIN_HIGH, dtype=torch.float32)).all()
        assert (x[:, 1] < x[:, 0]).all() and (y >= 0).all()


def test_yields_exactly_max_len_items_and_len_agrees():
    ds = small(max_len=7)
    assert len(ds) == 7
    assert sum(1 for _ in ds) == 7
    assert sum(1 for _ in ds) == 7  # and again on a second pass


def test_labels_are_the_monte_carlo_prices_of_the_inputs():
    ds = small()
    x, y = ds.item(1)
    _, mc_seed = ds.item_seeds(1)
    expected = price_options(x.numpy(), 64, n_steps=12, seed=mc_seed, backend="numba").price
    np.testing.assert_allclose(y.numpy(), expected.astype(np.float32))


def test_same_seed_reproduces_the_stream():
    assert torch.equal(stacked(small(seed=3)), stacked(small(seed=3)))


def test_other_seed_epoch_and_rank_give_other_streams():
    base = stacked(small())
    assert not torch.equal(base, stacked(small(seed=16)))
    assert not torch.equal(base, stacked(small(rank=1)))
    other_epoch = small()
    other_epoch.set_epoch(1)
    assert not torch.equal(base, stacked(other_epoch))


def test_items_within_a_stream_all_differ():
    xs = [x for x, _ in small(max_len=4)]
    assert all(not torch.equal(a, b) for i, a in enumerate(xs) for b in xs[i + 1 :])


def test_dataloader_workers_draw_distinct_items_and_keep_the_stream():
    ds = small(max_len=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    with_workers = list(loader)
    assert len(with_workers) == 4
    assert torch.equal(stacked(with_workers), stacked(small(max_len=4)))
    xs = [x for x, _ in with_workers]
    assert not torch.equal(xs[0], xs[1])  # items 0 and 1 came from different workers


def test_ranks_draw_different_parameters_and_normals():
    a, b = small(rank=0), small(rank=1)
    assert a.item_seeds(0)[0] != b.item_seeds(0)[0]
    assert not torch.equal(a.item(0)[0], b.item(0)[0])  # other options
    X = a.item(0)[0].numpy()  # the same options, priced with each rank's Monte Carlo seed
    prices = [
        price_options(X, 64, n_steps=12, seed=ds.item_seeds(0)[1], backend="numba").price
        for ds in (a, b)
    ]
    alive = (prices[0] > 0) | (prices[1] > 0)  # a deep knock-out is 0 whatever the normals
    assert alive.sum() >= 3 and np.all(prices[0][alive] != prices[1][alive])  # other normals


def test_item_seeds_are_all_distinct():
    seeds = [seed for k in range(4) for seed in small().item_seeds(k)]
    assert len(set(seeds)) == 8


def test_rank_is_read_in_the_main_process_and_kept_by_workers(monkeypatch):
    monkeypatch.setattr(data, "_distributed_rank", lambda: 1)  # as if rank 1 of a group
    ds = small(rank=None)
    assert ds.rank == 1
    monkeypatch.setattr(data, "_distributed_rank", lambda: 0)  # a spawned worker: no group
    monkeypatch.setattr(data, "get_worker_info", lambda: type("W", (), {"id": 0, "num_workers": 1}))
    assert torch.equal(stacked(ds), stacked(small(rank=1)))
    monkeypatch.setattr(data, "get_worker_info", lambda: None)  # the main process reads it again
    assert torch.equal(stacked(ds), stacked(small(rank=0)))


def test_stream_labels_concatenates_a_pass_in_order():
    ds = small()
    assert torch.equal(stream_labels(ds), torch.cat([y for _, y in ds]))
    assert stream_labels(ds).shape == (15,)


def test_cpu_hand_over_shares_memory():
    array = np.arange(6, dtype=np.float32)
    tensor = to_torch(array)
    assert data_pointer(tensor) == data_pointer(array)
    array[0] = 42.0
    assert tensor[0] == 42.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_len": 0}, "max_len"),
        ({"n_paths": 0}, "n_paths"),
        ({"batch": -1}, "batch"),
        ({"seed": -1}, "seed"),
        ({"device": "meta"}, "device"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small(**kwargs)


def test_cuda_device_without_a_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(cupy_backend, "is_usable", lambda: False)
    with pytest.raises(ValueError, match="needs CuPy"):
        small(device="cuda")


@pytest.mark.gpu
def test_gpu_items_are_handed_over_by_dlpack_without_copy(monkeypatch):
    import cupy

    from helpers.data import streaming as data

    captured = []
    real = data.to_torch

    def spy(array):
        tensor = real(array)
        captured.append(
            (data_pointer(array), data_pointer(tensor), isinstance(array, cupy.ndarray))
        )
        return tensor

    monkeypatch.setattr(data, "to_torch", spy)
    x, y = OptionDataSet(max_len=1, n_paths=1024, batch=16, device="cuda").item(0)
    assert x.is_cuda and y.is_cuda
    assert captured and all(is_cupy and a == b for a, b, is_cupy in captured)


@pytest.mark.gpu
def test_gpu_and_cpu_items_draw_the_same_options_and_agree():
    cpu = OptionDataSet(max_len=1, n_paths=20_000, batch=8, device="cpu", n_steps=50).item(0)
    gpu = OptionDataSet(max_len=1, n_paths=20_000, batch=8, device="cuda", n_steps=50).item(0)
    torch.testing.assert_close(gpu[0].cpu(), cpu[0])
    torch.testing.assert_close(gpu[1].cpu(), cpu[1], rtol=2e-3, atol=2e-3)
