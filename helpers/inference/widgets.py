"""Delta and gamma curves of the pricing network: live sliders in Jupyter, a static twin for HTML.

``interactive_curves(model)`` returns ipywidgets sliders for K, B, sigma, mu and r and a choice of
price, delta or gamma; every change recomputes the curve against S0 (one batched autograd call)
and redraws it. It needs a running kernel.

``plotly_curves(model, base, variations)`` precomputes the curves for a few values of each input
and returns a Plotly figure with a slider over them: it works in the built HTML book, which has
no kernel, with plotly.js embedded in the page (no network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..core.domain import BARRIER_FRACTION, COLUMN_INDEX, QUANTITY_UNITS
from .sensitivities import curves

SPOTS = np.linspace(10.0, 200.0, 96)
"""The spot grid of every curve: the article's range, 10 to 200."""

QUANTITIES = ("price", "delta", "gamma")


def interactive_curves(model: torch.nn.Module, base: Sequence[float]):
    """ipywidgets sliders that redraw price, delta or gamma against S0 (live kernel only).

    Args:
        model: the pricing network.
        base: the starting inputs ``[K, B, S0, sigma, mu, r]`` (S0 is the curve's variable).

    Returns:
        An ``ipywidgets.VBox``: display it in Jupyter.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    K, B, _, sigma, mu, r = (float(v) for v in base)
    controls = {
        "K": w.FloatSlider(value=K, min=10.0, max=200.0, step=1.0, description="K"),
        "B/K": w.FloatSlider(
            value=B / K, min=0.0, max=BARRIER_FRACTION, step=0.01, description="B / K"
        ),
        "sigma": w.FloatSlider(value=sigma, min=0.01, max=0.4, step=0.01, description="sigma"),
        "mu": w.FloatSlider(value=mu, min=0.0, max=0.2, step=0.005, description="mu"),
        "r": w.FloatSlider(value=r, min=0.0, max=0.2, step=0.005, description="r"),
        "quantity": w.Dropdown(options=QUANTITIES, value="delta", description="show"),
    }
    output = w.Output()

    def redraw(_=None) -> None:
        v = {name: c.value for name, c in controls.items()}
        row = [v["K"], v["B/K"] * v["K"], 100.0, v["sigma"], v["mu"], v["r"]]
        curve = curves(model, row, SPOTS)
        with output:
            output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(7, 3.6))
            ax.plot(curve["S0"], curve[v["quantity"]], color="tab:blue")
            ax.axvline(row[1], color="grey", ls=":", label="barrier")
            ax.set_xlabel("spot S0 (currency)")
            ax.set_ylabel(f"{v['quantity']} ({QUANTITY_UNITS[v['quantity']]})")
            ax.legend()
            plt.show()

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return w.VBox(
        [w.HBox(list(controls.values())[:3]), w.HBox(list(controls.values())[3:]), output]
    )


def plotly_curves(
    model: torch.nn.Module,
    base: Sequence[float],
    variations: Mapping[str, Sequence[float]],
):
    """A Plotly figure of price, delta and gamma against S0, with a slider over precomputed cases.

    Each slider step changes one input of ``base`` to one of its ``variations`` values; all
    curves are computed up front, so the figure needs no kernel.

    Args:
        model: the pricing network.
        base: ``[K, B, S0, sigma, mu, r]``; S0 is the x axis.
        variations: for some column names, the values to show (e.g. ``{"sigma": [0.1, 0.2]}``).

    Returns:
        A ``plotly.graph_objects.Figure`` with three stacked panels and one slider.
    """
    from plotly.subplots import make_subplots

    cases = [("base", list(base))]
    for name, values in variations.items():
        for value in values:
            row = list(base)
            row[COLUMN_INDEX[name]] = float(value)
            cases.append((f"{name} = {value:g}", row))
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=("price", "delta = dP/dS0", "gamma = d2P/dS0^2"),
    )
    for k, (label, row) in enumerate(cases):
        curve = curves(model, row, SPOTS)
        for panel, quantity in enumerate(QUANTITIES, start=1):
            fig.add_scatter(
                x=curve["S0"],
                y=curve[quantity],
                name=label,
                visible=k == 0,
                line={"color": "#1f77b4"},
                showlegend=False,
                row=panel,
                col=1,
            )
    steps = []
    for k, (label, _) in enumerate(cases):
        visible = [j // len(QUANTITIES) == k for j in range(len(cases) * len(QUANTITIES))]
        steps.append({"method": "update", "label": label, "args": [{"visible": visible}]})
    fig.update_layout(
        height=720,
        margin={"t": 40, "b": 40},
        sliders=[
            {"active": 0, "steps": steps, "currentvalue": {"prefix": "case: "}, "pad": {"t": 40}}
        ],
    )
    fig.update_xaxes(title_text="spot S0 (currency)", row=3, col=1)
    for panel, quantity in enumerate(QUANTITIES, start=1):
        fig.update_yaxes(title_text=QUANTITY_UNITS[quantity], row=panel, col=1)
    return fig


def plotly_html(fig) -> str:
    """The figure as an HTML fragment with plotly.js embedded: it renders with no network."""
    return fig.to_html(include_plotlyjs=True, full_html=False)
