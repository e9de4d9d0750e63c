"""helpers.mc.streams: the arrays hold the kernels' random numbers, counter for counter."""

import numpy as np

from helpers.mc import streams
from helpers.mc.normals import box_muller
from helpers.mc.philox import philox4x32_10, split_seed


def test_uniforms_and_normals_follow_the_counter_layout():
    seed, n_steps = 2**33 + 5, 7
    u = streams.uniforms(2, 3, n_steps, seed)
    z = streams.normals(2, 3, n_steps, seed)
    key0, key1 = split_seed(seed)
    for i in range(2):
        for p in range(3):
            for j in range(2):
                words = philox4x32_10(np.uint64(j), np.uint64(p), np.uint64(i), np.uint64(0),
                                      key0, key1)  # fmt: skip
                pairs = box_muller(words[0], words[1]) + box_muller(words[2], words[3])
                for k in range(4):
                    n = 4 * j + k
                    if n < n_steps:
                        assert u[i, p, n] == (float(words[k]) + 0.5) * 2.0**-32
                        assert z[i, p, n] == pairs[k]
    assert u.dtype == np.float64 and z.dtype == np.float32
    assert ((u > 0) & (u < 1)).all()
