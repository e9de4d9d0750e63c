"""helpers.mc.special: the normal distribution's functions against SciPy's."""

import math

import numpy as np
from scipy import special as scipy_special

from helpers.mc.special import norm_cdf, norm_pdf, norm_ppf


def test_norm_ppf_matches_scipy_to_1e_15_from_the_far_tail_to_the_centre():
    p = np.concatenate([np.logspace(-300, -1, 600), np.linspace(0.01, 0.99, 500),
                        1 - np.logspace(-15, -2, 100)])  # fmt: skip
    ours = np.array([norm_ppf(v) for v in p])
    np.testing.assert_allclose(ours, scipy_special.ndtri(p), rtol=2e-15, atol=1e-300)


def test_norm_ppf_ends_are_infinite():
    assert norm_ppf(0.0) == -math.inf and norm_ppf(1.0) == math.inf


def test_norm_cdf_keeps_the_lower_tail_and_pdf_integrates_to_one():
    x = np.linspace(-37.0, 8.0, 400)
    ours = np.array([norm_cdf(v) for v in x])
    np.testing.assert_allclose(ours, scipy_special.ndtr(x), rtol=1e-12)
    grid, step = np.linspace(-10, 10, 20_001, retstep=True)
    assert abs(sum(norm_pdf(v) for v in grid) * step - 1.0) < 1e-9  # the tails are < 1e-22
