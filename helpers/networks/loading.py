"""Building a pricer from its recorded architecture, and loading the shipped pretrained one."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..core.config import DATA_DIR
from ..core.files import sha256
from ..core.validate import check_device
from .homogeneous import HomogeneousPricer
from .mlp import Net
from .residual import ResidualPricer


def build_pricer(architecture: dict) -> nn.Module:
    """An untrained pricer from its recorded architecture: ``Net(**architecture)``, or with
    ``"kind": "homogeneous"`` a ``HomogeneousPricer`` with the remaining
    arguments, with ``"kind": "residual"`` a ``helpers.networks.residual.ResidualPricer``.

    Raises:
        ValueError: an unknown ``kind``.
    """
    arguments = dict(architecture)
    kind = arguments.pop("kind", "plain")
    if kind == "plain":
        return Net(**arguments)
    if kind == "homogeneous":
        return HomogeneousPricer(**arguments)
    if kind == "residual":
        return ResidualPricer(**arguments)
    raise ValueError(f"unknown pricer kind {kind!r}: 'plain', 'homogeneous' or 'residual'")


def load_pretrained(
    device: torch.device | str | None = None, folder: str | Path | None = None
) -> nn.Module:
    """The shipped pretrained pricer, in eval mode.

    Reads ``pricer.json`` (architecture, recipe, SHA-256) and ``pricer.pt`` from ``folder``
    (default: the repository's ``data/``), checks the SHA-256 of the weights, and loads them with
    ``torch.load(..., weights_only=True)``: tensors only, no code.

    Args:
        device: where to put the model (default: CPU).
        folder: where the files are.

    Raises:
        ValueError: a missing file, weights whose SHA-256 differs from the one recorded, or a
            device this machine lacks (``helpers.core.validate.check_device``).
    """
    device = check_device(device) if device is not None else torch.device("cpu")
    folder = Path(folder) if folder is not None else DATA_DIR
    meta_path = folder / "pricer.json"
    if not meta_path.exists():
        raise ValueError(f"no pretrained model in {folder}: pricer.json is missing")
    meta = json.loads(meta_path.read_text())
    weights = folder / meta["file"]
    if not weights.exists():
        raise ValueError(f"the pretrained weights {weights} are missing")
    if sha256(weights) != meta["sha256"]:
        raise ValueError(f"{weights} does not match the SHA-256 recorded in {meta_path}")
    model = build_pricer(meta["architecture"])
    model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    return model.to(device).eval()


def make_pricer(kind: str = "homogeneous", **architecture) -> nn.Module:
    """``HomogeneousPricer(**architecture)`` for ``kind="homogeneous"``, the article's
    ``helpers.networks.mlp.Net(**architecture)`` for ``"plain"``."""
    return build_pricer({"kind": kind, **architecture})
