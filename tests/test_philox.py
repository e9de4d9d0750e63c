"""Philox4x32-10 against the published known-answer vectors of Random123 (Salmon et al. 2011)."""

import numpy as np
import pytest

from helpers.mc.normals import box_muller
from helpers.mc.philox import philox4x32_10, split_seed

KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS)
def test_philox_matches_random123_known_answers(counter, key, expected):
    words = philox4x32_10(*(np.uint64(c) for c in counter), *(np.uint64(k) for k in key))
    assert tuple(int(w) for w in words) == expected


def test_box_muller_normals_have_unit_moments():
    words = [philox4x32_10(np.uint64(i), np.uint64(0), np.uint64(0), np.uint64(0),
                           np.uint64(5), np.uint64(0)) for i in range(5000)]  # fmt: skip
    z = np.array([box_muller(w[0], w[1]) + box_muller(w[2], w[3]) for w in words]).ravel()
    se_mean = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se_mean
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    assert np.isfinite(z).all()


def test_box_muller_is_finite_at_the_extremes():
    for x0 in (0, 0xFFFFFFFF):
        for x1 in (0, 0x7FFFFFFF, 0xFFFFFFFF):
            assert np.isfinite(box_muller(np.uint64(x0), np.uint64(x1))).all()


def test_split_seed_covers_64_bits():
    assert split_seed(2**64 - 1) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert split_seed(2**32 + 7) == (7, 1)
