"""Chapter 11: a basket call on ten FX rates under local volatility, and the gradient of its
price with respect to every market input by one reverse sweep (NAG and RWTH Aachen's problem).

``market`` ships the synthetic market (``load_market``), ``splines`` the differentiable cubic
splines, ``dupire`` the chain from quotes to a local-volatility table, ``basket`` the Monte
Carlo and its gradient (``price_basket``), ``checks`` the checks against QuantLib and bumping,
``timing`` the benchmark, ``tables`` Chapter 11's tables.
"""

from .basket import BasketResult, price_basket
from .market import Market, check_market, load_market

__all__ = ["BasketResult", "Market", "check_market", "load_market", "price_basket"]
