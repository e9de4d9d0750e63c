"""Request and response bodies of the pricing service (pydantic), which its OpenAPI page shows.

Every number must be a finite JSON number: a NaN or an infinity is a 422 that names the
option's index and the field, from the validation itself, before any model runs. Types are
strict: ``true`` or ``"110"`` where a number belongs is a 422, not 1 or 110 (pydantic's strict
mode); an integer such as ``110`` is a number and stays accepted, as JSON does not tell 110
from 110.0. A request holds at most ``MAX_OPTIONS`` options (``MAX_QUOTES`` for
``/implied-vol``), so that a request at the limit is answered well within the default
deadline (``Settings.deadline_ms``) on two CPU cores.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_OPTIONS = 10_000
"""Options a ``/price`` or ``/greeks`` request may hold. Measured on two busy CPU cores with the
shipped pricer: 10,000 options' Greeks took 0.7 s in the model and about 0.2 s to read and
check, against a default deadline of 5 s."""

MAX_QUOTES = 1_000
"""Quotes a ``/implied-vol`` request may hold: an implied volatility costs about 60 evaluations
of the network (a scan of 41 volatilities, then bisection), so 1,000 quotes took 1.0 to 1.3 s on two
busy CPU cores, against a default deadline of 5 s."""

MAX_BODY_BYTES = 500 * MAX_OPTIONS
"""A request body larger than this (bytes) is refused with 413 before it is parsed: 500 bytes
an option at ``MAX_OPTIONS``, three times what an option written with every digit of its
floats takes."""


_STRICT = ConfigDict(extra="forbid", strict=True)


class _Terms(BaseModel):
    """What an option and a quote share: every column of ``helpers.core.domain.COLUMNS`` but
    ``sigma``."""

    model_config = _STRICT

    K: float = Field(allow_inf_nan=False, description="strike, currency units")
    B: float = Field(allow_inf_nan=False, description="barrier (down-and-out), currency units")
    S0: float = Field(allow_inf_nan=False, description="spot, currency units")
    mu: float = Field(allow_inf_nan=False, description="drift, per year")
    r: float = Field(allow_inf_nan=False, description="discount rate, per year")


class Option(_Terms):
    """One option: the columns of ``helpers.core.domain.COLUMNS``."""

    sigma: float = Field(allow_inf_nan=False, description="volatility, per year")


class Quote(_Terms):
    """An option without its volatility, and its price: an implied-volatility question."""

    price: float = Field(allow_inf_nan=False, description="the quoted price, currency units")


_OUTSIDE = "extrapolate outside the training domain instead of a 422"


class OptionsRequest(BaseModel):
    """Options to price (or to take Greeks of), answered in the same order."""

    model_config = _STRICT

    options: list[Option] = Field(
        min_length=1,
        max_length=MAX_OPTIONS,
        description=f"at least one option, at most {MAX_OPTIONS:,}",
    )
    allow_outside: bool = Field(False, description=_OUTSIDE)


class QuotesRequest(BaseModel):
    """Quotes to invert, answered in the same order."""

    model_config = _STRICT

    options: list[Quote] = Field(
        min_length=1,
        max_length=MAX_QUOTES,
        description=f"at least one quote, at most {MAX_QUOTES:,}",
    )
    allow_outside: bool = Field(False, description=_OUTSIDE)


class Prices(BaseModel):
    """``POST /price``'s answer: one finite price per option, currency units."""

    prices: list[float]


class Greeks(BaseModel):
    """``POST /greeks``'s answer: per option, the names of
    ``helpers.inference.sensitivities.greeks``, each finite."""

    greeks: list[dict[str, float]]


class ImpliedVols(BaseModel):
    """``POST /implied-vol``'s answer: per quote, the smallest volatility that matches."""

    implied_vols: list[float]


class Error(BaseModel):
    """Every refusal's answer (400, 413, 422, 500, 503, 504): what went wrong, in words that name
    the option's index, the field and the allowed range or limit."""

    detail: str


class Health(BaseModel):
    """``GET /health``'s answer."""

    status: str
    engine: str = Field(description='what prices: "torch" or "onnx"')
    engine_choice: str = Field(description="why: asked for, or auto's timings at start-up")
    model_sha256: str
    queue_depth: dict[str, int]
