"""Measurements of the course's code, one module per topic, for the chapters and ``make bench``.

Topics (``runner.TOPICS``): ``mc`` (the Monte Carlo backends, Chapter 1), ``data`` (the
streaming dataset and datasets on disk, Chapters 2 and 6), ``training`` (mixed precision,
Chapter 4), ``inference`` (the network against Monte Carlo, Chapter 7), ``adjoint`` (Chapter 8),
``differential`` (derivative labels, Chapter 9, and control-variate labels, Chapter 10), and
the later chapters' own modules: ``helpers.localvol.timing`` (Chapter 11),
``helpers.inference.export.benchmark`` (12) and ``helpers.inference.service.benchmark`` (13). A
chapter imports the timing function it shows from its topic's module.

``python -m helpers.benchmark --out bench`` (``make bench``) measures every topic and writes
``results.md`` and ``results.json``; ``python -m helpers.benchmark mc service --out bench``
measures those two again and keeps the others from ``results.json``.
"""

from .common import Timing
from .runner import TOPICS, main, run_all, run_topics, to_markdown

__all__ = ["TOPICS", "Timing", "main", "run_all", "run_topics", "to_markdown"]
