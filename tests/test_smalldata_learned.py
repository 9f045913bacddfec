"""The DeCAF stand-in network of the tests and the tiny config."""

import torch

from cnnpractice.smalldata.learned import decaf_net


def test_random_decaf_network_is_seeded():
    # DeCAF without weights: the same seed gives the same network, so the same config gives
    # the same features table (it once changed from run to run)
    state = torch.get_rng_state()
    a, b, c = decaf_net(None, seed=7), decaf_net(None, seed=7), decaf_net(None, seed=8)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is untouched
    first = next(a.parameters())
    assert torch.equal(first, next(b.parameters())) and not torch.equal(first, next(c.parameters()))
