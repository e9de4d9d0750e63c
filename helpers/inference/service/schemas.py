"""Request and response bodies of the pricing service (pydantic), which its OpenAPI page shows.

Every number must be finite: a NaN or an infinity is a 422 that names the option's index and
the field, from the validation itself, before any model runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Terms(BaseModel):
    """What an option and a quote share: every column of ``helpers.core.domain.COLUMNS`` but
    ``sigma``."""

    model_config = ConfigDict(extra="forbid")

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


class OptionsRequest(BaseModel):
    """Options to price (or to take Greeks of), answered in the same order."""

    model_config = ConfigDict(extra="forbid")

    options: list[Option] = Field(min_length=1, description="at least one option")
    allow_outside: bool = Field(
        False, description="extrapolate outside the training domain instead of a 422"
    )


class QuotesRequest(BaseModel):
    """Quotes to invert, answered in the same order."""

    model_config = ConfigDict(extra="forbid")

    options: list[Quote] = Field(min_length=1, description="at least one quote")
    allow_outside: bool = Field(
        False, description="extrapolate outside the training domain instead of a 422"
    )


class Prices(BaseModel):
    """``POST /price``'s answer."""

    prices: list[float]


class Greeks(BaseModel):
    """``POST /greeks``'s answer: per option, the names of
    ``helpers.inference.sensitivities.greeks``."""

    greeks: list[dict[str, float]]


class ImpliedVols(BaseModel):
    """``POST /implied-vol``'s answer: per quote, the smallest volatility that matches."""

    implied_vols: list[float]


class Health(BaseModel):
    """``GET /health``'s answer."""

    status: str
    engine: str = Field(description='what prices: "torch" or "onnx"')
    engine_choice: str = Field(description="why: asked for, or auto's timings at start-up")
    model_sha256: str
    queue_depth: dict[str, int]
