"""The FX market of Chapter 11: ten currency pairs, their smiles and their correlation.

The production-sized problem of du Toit (NAG), Lotz and Naumann (RWTH Aachen), in their report
and slides on the adjoint of NAG's GPU local-volatility code, prices a basket call on ten FX
rates, each under its own local-volatility model calibrated to implied-volatility quotes. The
course ships a synthetic market of that shape (nothing here is market data):

- spots in domestic currency per unit of foreign currency, one flat domestic rate and one flat
  foreign rate per pair (continuously compounded, per year);
- implied volatilities at 5 strikes for each of 7 maturities (1 month to 1 year) per pair, read
  off Gatheral and Jacquier's SSVI surface, with a power-law curvature that is free of static
  arbitrage when ``eta (1 + |rho|) <= 2`` and an at-the-money total variance that rises with the
  maturity; the strikes are the forward moneyness of the 10, 25, 50, 75 and 90 delta calls
  under the at-the-money volatility;
- a correlation matrix estimated pairwise from a synthetic history of daily returns whose
  assets are quoted on different days, which leaves it indefinite, then repaired to the
  nearest correlation matrix by ``statsmodels.stats.correlation_tools.corr_nearest``, as NAG
  describe;
- basket weights that make each pair worth a tenth of the basket at today's spots, and a strike
  at the basket's forward.

``python -m helpers.localvol.market --out data`` writes ``data/fx_market.json``;
``load_market()`` reads it back as a ``Market``.

References:
    J. du Toit, J. Lotz and U. Naumann, "Adjoint Algorithmic Differentiation of a GPU
    Accelerated Application", Numerical Algorithms Group (2013), and J. du Toit's slides
    "Algorithmic Differentiation of a GPU Accelerated Application" (the book's references
    ``dutoit_nag`` and ``dutoit_nag_slides``).
    J. Gatheral and A. Jacquier, "Arbitrage-free SVI volatility surfaces", Quantitative
    Finance 14 (2014), 59-71.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import norm

from ..core.config import DATA_DIR
from ..core.files import write_json

MARKET_FILE = DATA_DIR / "fx_market.json"
"""Where the shipped market is."""

MARKET_SEED = 20_140_101
"""Seed of the synthetic correlation history."""

PAIRS = ("EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "SEK", "NOK", "MXN")
"""The foreign currencies; the domestic one is USD. Only their names are real."""

MATURITIES = np.array([1, 2, 3, 4, 6, 9, 12]) / 12.0
"""Quote maturities in years."""

QUOTE_DELTAS = np.array([0.10, 0.25, 0.50, 0.75, 0.90])
"""The strikes sit at the forward moneyness of calls of these deltas (at-the-money vol)."""

ARRAY_FIELDS = ("spots", "rf", "maturities", "strikes", "vols", "corr", "weights")
SCALAR_FIELDS = ("rd", "strike", "expiry")


@dataclass(frozen=True)
class Market:
    """An FX basket's market, for any number ``m`` of currency pairs.

    Attributes:
        spots: ``(m,)``, domestic currency per unit of each foreign currency.
        rf: ``(m,)``, foreign rates, continuously compounded, per year.
        maturities: ``(t,)``, quote maturities in years, increasing.
        strikes: ``(m, t, q)``, quote strikes, increasing along the last axis.
        vols: ``(m, t, q)``, Black implied volatilities at those strikes, annualised.
        corr: ``(m, m)``, correlation of the log-spots' Brownian motions.
        weights: ``(m,)``, units of each foreign currency in the basket.
        rd: the domestic rate, continuously compounded, per year.
        strike: the basket call's strike, domestic currency.
        expiry: the basket call's expiry in years.

    Any field can be changed with ``dataclasses.replace``; ``check_market`` validates.
    """

    spots: np.ndarray
    rf: np.ndarray
    maturities: np.ndarray
    strikes: np.ndarray
    vols: np.ndarray
    corr: np.ndarray
    weights: np.ndarray
    rd: float
    strike: float
    expiry: float

    @property
    def n_assets(self) -> int:
        return len(self.spots)

    def to_dict(self) -> dict:
        """JSON-ready: arrays as nested lists."""
        out: dict = {name: np.asarray(getattr(self, name)).tolist() for name in ARRAY_FIELDS}
        return out | {name: float(getattr(self, name)) for name in SCALAR_FIELDS}

    @classmethod
    def from_dict(cls, fields: dict) -> Market:
        arrays = {name: np.asarray(fields[name], dtype=np.float64) for name in ARRAY_FIELDS}
        return cls(**arrays, **{name: float(fields[name]) for name in SCALAR_FIELDS})


def check_market(market: Market) -> Market:
    """Validates ``market`` and returns it with float64 arrays.

    Raises:
        ValueError: naming the field and the position: a NaN or infinite entry, a non-positive
            spot, volatility, strike or expiry, maturities not increasing, strikes not
            increasing within a maturity, shapes that do not match the number of pairs, a
            correlation matrix that is not square, not symmetric, not 1 on its diagonal, has
            entries outside [-1, 1] or is not positive definite.
    """
    fields = {}
    for name in ARRAY_FIELDS + SCALAR_FIELDS:
        value = np.asarray(getattr(market, name), dtype=np.float64)
        bad = np.argwhere(~np.isfinite(value))
        if len(bad):
            raise ValueError(f"market.{name} has a non-finite entry at {tuple(bad[0])}")
        fields[name] = value if name in ARRAY_FIELDS else float(value)
    m = fields["spots"].shape[0] if fields["spots"].ndim == 1 else -1
    if m < 1:
        raise ValueError(f"market.spots must have shape (m,), got {fields['spots'].shape}")
    t = len(fields["maturities"]) if fields["maturities"].ndim == 1 else -1
    expected = {"rf": (m,), "weights": (m,), "corr": (m, m), "maturities": (t,)}
    for name, shape in expected.items():
        if fields[name].shape != shape:
            raise ValueError(f"market.{name} must have shape {shape}, got {fields[name].shape}")
    for name in ("strikes", "vols"):
        shape = fields[name].shape
        if len(shape) != 3 or shape[:2] != (m, t) or shape[2] < 2:
            raise ValueError(f"market.{name} must have shape ({m}, {t}, q) with q >= 2, got "
                             f"{shape}")  # fmt: skip
    if fields["vols"].shape != fields["strikes"].shape:
        raise ValueError(f"market.vols has shape {fields['vols'].shape}, market.strikes "
                         f"{fields['strikes'].shape}: they must match")  # fmt: skip
    for name in ("spots", "strikes", "vols", "maturities"):
        bad = np.argwhere(fields[name] <= 0)
        if len(bad):
            raise ValueError(f"market.{name} must be positive: {fields[name][tuple(bad[0])]} "
                             f"at {tuple(bad[0])}")  # fmt: skip
    for name in ("expiry", "strike"):
        if not fields[name] > 0:
            raise ValueError(f"market.{name} must be positive, got {fields[name]}")
    steps = np.argwhere(np.diff(fields["maturities"]) <= 0)
    if len(steps):
        raise ValueError(f"market.maturities must increase: entry {steps[0][0] + 1} is not "
                         "above the one before")  # fmt: skip
    steps = np.argwhere(np.diff(fields["strikes"], axis=2) <= 0)
    if len(steps):
        i, j, k = steps[0]
        raise ValueError(f"market.strikes must increase along the last axis: entry "
                         f"{(i, j, k + 1)} is not above the one before")  # fmt: skip
    corr = fields["corr"]
    asymmetric = np.argwhere(np.abs(corr - corr.T) > 1e-12)
    if len(asymmetric):
        raise ValueError(f"market.corr must be symmetric: entry {tuple(asymmetric[0])} differs "
                         "from its transpose")  # fmt: skip
    off = np.argwhere(np.abs(np.diag(corr) - 1.0) > 1e-12)
    if len(off):
        raise ValueError(f"market.corr must have 1 on its diagonal, not at {off[0][0]}")
    outside = np.argwhere(np.abs(corr) > 1.0)
    if len(outside):
        raise ValueError(f"market.corr entries must lie in [-1, 1]: {tuple(outside[0])}")
    if np.linalg.eigvalsh(corr).min() <= 0:
        raise ValueError("market.corr must be positive definite (repair it with "
                         "statsmodels.stats.correlation_tools.corr_nearest)")  # fmt: skip
    return Market(**fields)


def select_pairs(market: Market, pairs: list[int]) -> Market:
    """The market of the listed pairs only (their rows of every array, their block of the
    correlation matrix); the strike, rates and expiry are unchanged.

    Example:
        >>> select_pairs(load_market(), [0, 9]).corr.shape
        (2, 2)
    """
    rows = np.asarray(pairs, dtype=np.int64)
    fields = {name: np.asarray(getattr(market, name))[rows]
              for name in ("spots", "rf", "strikes", "vols", "weights")}  # fmt: skip
    corr = np.asarray(market.corr)[np.ix_(rows, rows)]
    return dataclasses.replace(market, corr=corr, **fields)


def load_market(path: str | Path | None = None) -> Market:
    """The shipped market (``data/fx_market.json``), checked.

    Example:
        >>> market = load_market()
        >>> market.vols.shape, market.corr.shape
        ((10, 7, 5), (10, 10))
    """
    path = Path(path) if path is not None else MARKET_FILE
    if not path.exists():
        raise ValueError(f"no market file at {path}: run python -m helpers.localvol.market")
    return check_market(Market.from_dict(json.loads(path.read_text())["market"]))


def ssvi_total_variance(k: np.ndarray, theta: np.ndarray, rho: float, eta: float,
                        gamma: float) -> np.ndarray:  # fmt: skip
    """Gatheral and Jacquier's SSVI total implied variance.

    ``w(k, theta) = theta / 2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2))`` with the
    power law ``phi(theta) = eta theta^-gamma (1 + theta)^(gamma - 1)``.

    Args:
        k: log forward moneyness ``log(K / F)``, any shape broadcasting against ``theta``.
        theta: at-the-money total variance ``sigma_atm^2 T``.
        rho: the skew, in ``(-1, 1)``; eta, gamma: the curvature's power law.
    """
    phi = eta * theta**-gamma * (1.0 + theta) ** (gamma - 1.0)
    return theta / 2 * (1 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1 - rho**2))


def atm_total_variance(t: np.ndarray, short: float, long: float, kappa: float) -> np.ndarray:
    """``theta(t) = long^2 t + (short^2 - long^2) (1 - exp(-kappa t)) / kappa``: the integral of
    an instantaneous variance that moves from ``short^2`` to ``long^2``, so it rises with ``t``."""
    return long**2 * t + (short**2 - long**2) * (1 - np.exp(-kappa * t)) / kappa


PAIR_PARAMETERS = {
    # spot (USD per unit), foreign rate, ATM vol short and long, kappa, SSVI rho, eta
    "EUR": (1.08, 0.025, 0.070, 0.080, 2.0, -0.10, 0.9),
    "GBP": (1.27, 0.045, 0.080, 0.085, 2.0, -0.20, 0.8),
    "JPY": (0.0067, -0.001, 0.100, 0.095, 1.5, 0.25, 1.0),
    "CHF": (1.13, 0.010, 0.075, 0.080, 2.0, 0.15, 0.9),
    "AUD": (0.66, 0.042, 0.110, 0.100, 1.0, -0.35, 1.1),
    "CAD": (0.73, 0.035, 0.065, 0.070, 2.0, -0.15, 0.8),
    "NZD": (0.60, 0.050, 0.115, 0.105, 1.0, -0.35, 1.1),
    "SEK": (0.095, 0.030, 0.095, 0.095, 1.5, -0.05, 0.9),
    "NOK": (0.093, 0.040, 0.105, 0.100, 1.5, -0.10, 1.0),
    "MXN": (0.055, 0.100, 0.150, 0.130, 0.8, -0.50, 1.2),
}
"""Each pair's ``(spot, rf, atm_short, atm_long, kappa, rho, eta)``; every ``eta (1 + |rho|)``
is at most 2, Gatheral and Jacquier's bound for no static arbitrage; ``gamma`` is ``GAMMA``."""

GAMMA = 0.5
DOMESTIC_RATE = 0.04
EXPIRY = 1.0


def synthetic_correlation(n_assets: int, seed: int = MARKET_SEED) -> dict:
    """A correlation matrix estimated the way a desk might, from gappy histories, and its
    repair.

    A two-factor model (a dollar factor and a regional one) draws ``HISTORY_DAYS`` daily
    returns with Student-t noise; each asset has a quote on a random ``TRADED_FRACTION`` of
    the days, and each pair's correlation is estimated on the days both have one. Such
    pairwise estimates need not form a positive semi-definite matrix; ``corr_nearest`` finds
    the nearest one that is.

    Returns:
        ``{"estimated", "repaired", "min_eigenvalue_estimated", "min_eigenvalue_repaired"}``.
    """
    from statsmodels.stats.correlation_tools import corr_nearest
    from statsmodels.tools.sm_exceptions import IterationLimitWarning

    rng = np.random.default_rng(seed)
    days = HISTORY_DAYS
    dollar = rng.standard_normal(days)
    region = rng.standard_normal((3, days))
    groups = np.arange(n_assets) % 3
    loading = rng.uniform(0.4, 0.8, n_assets)
    returns = (loading[:, None] * dollar + 0.8 * region[groups]
               + 0.3 * rng.standard_t(4, (n_assets, days)))  # fmt: skip
    traded = rng.random((n_assets, days)) < TRADED_FRACTION
    estimated = np.eye(n_assets)
    for i in range(n_assets):
        for j in range(i):
            common = traded[i] & traded[j]
            value = np.corrcoef(returns[i, common], returns[j, common])[0, 1]
            estimated[i, j] = estimated[j, i] = value
    with warnings.catch_warnings():
        # corr_nearest stops only when no eigenvalue is clipped, which the diagonal's reset to
        # 1 undoes by rounding when the threshold is positive: it always spends its budget,
        # and warns. The result is checked instead: positive definite, 1 on the diagonal.
        warnings.simplefilter("ignore", IterationLimitWarning)
        repaired = corr_nearest(estimated, threshold=1e-4, n_fact=NEAREST_ITERATIONS)
    repaired = (repaired + repaired.T) / 2
    np.fill_diagonal(repaired, 1.0)
    return {
        "estimated": estimated,
        "repaired": repaired,
        "min_eigenvalue_estimated": float(np.linalg.eigvalsh(estimated).min()),
        "min_eigenvalue_repaired": float(np.linalg.eigvalsh(repaired).min()),
    }


HISTORY_DAYS = 120
"""Days of synthetic history behind the correlation estimate."""
TRADED_FRACTION = 0.6
"""Share of the days on which each asset has a quote."""
NEAREST_ITERATIONS = 100
"""``corr_nearest``'s iteration budget per row (its ``n_fact``)."""


def make_market(seed: int = MARKET_SEED) -> tuple[Market, dict]:
    """The course's synthetic market and the parameters that made it.

    Returns:
        ``(market, parameters)``: the ``Market`` and a JSON-ready record of the SSVI
        parameters, the correlation before its repair and both matrices' smallest
        eigenvalues.
    """
    names = list(PAIR_PARAMETERS)
    table = np.array([PAIR_PARAMETERS[name] for name in names])
    spots, rf = table[:, 0], table[:, 1]
    T = MATURITIES
    forwards = spots[:, None] * np.exp((DOMESTIC_RATE - rf[:, None]) * T)
    theta = np.stack([atm_total_variance(T, *row[2:5]) for row in table])  # (m, t)
    atm_vol = np.sqrt(theta / T)
    # the call of delta D has d1 = Phi^-1(D): k = log(K / F) = -d1 sigma sqrt(T) + sigma^2 T / 2
    d1 = norm.ppf(QUOTE_DELTAS[::-1])
    k = -d1[None, None, :] * np.sqrt(theta)[..., None] + theta[..., None] / 2
    strikes = forwards[..., None] * np.exp(k)
    w = np.stack([ssvi_total_variance(k[i], theta[i][:, None], table[i, 5], table[i, 6], GAMMA)
                  for i in range(len(names))])  # fmt: skip
    vols = np.sqrt(w / T[None, :, None])
    correlation = synthetic_correlation(len(names), seed)
    weights = 0.1 / spots
    basket_forward = float(weights @ (spots * np.exp((DOMESTIC_RATE - rf) * EXPIRY)))
    market = Market(spots=spots, rf=rf, maturities=T, strikes=strikes, vols=vols,
                    corr=correlation["repaired"], weights=weights, rd=DOMESTIC_RATE,
                    strike=round(basket_forward, 4), expiry=EXPIRY)  # fmt: skip
    parameters = {
        "pairs": names,
        "domestic": "USD",
        "ssvi": {
            name: dict(zip(("atm_short", "atm_long", "kappa", "rho", "eta"), row[2:], strict=True))
            | {"gamma": GAMMA}
            for name, row in zip(names, table.tolist(), strict=True)
        },
        "atm_vols": atm_vol.tolist(),
        "quote_deltas": QUOTE_DELTAS.tolist(),
        "seed": seed,
        "history_days": HISTORY_DAYS,
        "corr_estimated": correlation["estimated"].tolist(),
        "min_eigenvalue_estimated": correlation["min_eigenvalue_estimated"],
        "min_eigenvalue_repaired": correlation["min_eigenvalue_repaired"],
    }
    return check_market(market), parameters


def write_market(out: Path) -> Path:
    """Writes ``out/fx_market.json`` (atomically): the market, its parameters, the command."""
    market, parameters = make_market()
    record = {"command": "python -m helpers.localvol.market --out data",
              "note": "synthetic: no market data", "market": market.to_dict(),
              "parameters": parameters}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    path = out / "fx_market.json"
    return write_json(path, record, indent=1)


def main(argv: list[str] | None = None) -> None:
    """Command line: writes ``fx_market.json`` into ``--out``. Exit codes: 0 done, 1 the folder
    cannot be written (one line on stderr says why), 2 bad arguments."""
    from ..core.cli import CommandParser, output_folder, reported_failures
    from ..core.config import DATA_DIR

    parser = CommandParser(
        prog="python -m helpers.localvol.market",
        description=__doc__.split("\n")[0] + " Writes the synthetic market to fx_market.json.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DATA_DIR,
        metavar="FOLDER",
        help="folder fx_market.json is written to, created if needed (default: the "
        f"repository's data/ folder, {DATA_DIR}, wherever the command is run from)",
    )
    args = parser.parse_args(argv)
    with reported_failures():
        print(write_market(output_folder(args.out, "--out")))


if __name__ == "__main__":
    main()
