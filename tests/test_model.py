"""helpers.networks.mlp.Net: shapes, input scaling, forward and backward, smooth second
derivatives."""

import pytest
import torch

from helpers.core.domain import DOMAIN_HIGH
from helpers.networks.mlp import Net


def test_forward_maps_batches_of_six_inputs_to_prices():
    net = Net(hidden=16, layers=3)
    assert net(torch.rand(7, 6)).shape == (7,)
    assert net(torch.rand(2, 7, 6)).shape == (2, 7)


def test_layer_count_and_width():
    net = Net(hidden=32, layers=5)
    assert len(net.hidden) == 5
    assert [layer.out_features for layer in net.hidden] == [32] * 5
    assert net.output.in_features == 32 and net.output.out_features == 1


def test_inputs_are_scaled_by_the_domain_bounds_in_a_buffer():
    net = Net(hidden=8, layers=1)
    assert "scale" in dict(net.named_buffers())
    torch.testing.assert_close(net.scale, torch.tensor(DOMAIN_HIGH, dtype=torch.float32))
    assert "scale" in net.state_dict()


def test_backward_reaches_every_parameter():
    net = Net(hidden=16, layers=2)
    net(torch.rand(4, 6)).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_second_derivative_in_spot_is_nonzero_with_elu():
    torch.manual_seed(0)
    net = Net(hidden=16, layers=2)
    x = torch.rand(6, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x), x, create_graph=True)
    (second,) = torch.autograd.grad(grad[2], x)
    assert second[2].abs() > 0


@pytest.mark.parametrize("hidden,layers", [(0, 5), (8, 0)])
def test_bad_sizes_are_refused(hidden, layers):
    with pytest.raises(ValueError, match=r"(hidden|layers) must be an integer in \[1"):
        Net(hidden=hidden, layers=layers)
