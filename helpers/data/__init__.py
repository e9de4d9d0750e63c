"""Data for the networks (Chapters 2, 6 and 13): the streaming Monte Carlo dataset
(``streaming``), datasets on disk made with Dask (``generate``) and read back (``on_disk``),
shards read ahead while a model trains (``readahead``), and the held-out test set
(``test_set``). Built on ``helpers.core`` and ``helpers.mc``."""
