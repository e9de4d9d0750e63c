"""Chapter 11: a basket call on ten FX rates under local volatility, and the gradient of its
price with respect to every market input by one reverse sweep (NAG and RWTH Aachen's problem).

``market`` ships the synthetic market (``load_market``), ``splines`` the differentiable cubic
splines, ``dupire`` the chain from quotes to a local-volatility table, ``basket`` the Monte
Carlo and its gradient (``price_basket``), ``checks`` the checks against QuantLib and bumping,
``timing`` the benchmark, ``tables`` Chapter 11's tables.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "BasketResult": "basket",
    "price_basket": "basket",
    "Market": "market",
    "check_market": "market",
    "load_market": "market",
}


def __getattr__(name: str):
    """The package's names, imported on first use: ``python -m helpers.localvol.market`` then
    runs ``market`` once, as ``__main__``, without runpy's warning that it was imported first."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BasketResult", "Market", "check_market", "load_market", "price_basket"]
