"""Training the networks: Ignite training and mixed precision (``trainer``), distributed
training with torchrun (``distributed``), the differential loss and its training loop
(``differential``), the shipped pricer's recipe (``recipe``), the ablation and learning curves
(``ablation``, ``python -m helpers.training.ablation``), hyper-parameter sweeps
(``sweep``), and a timed pass over shards read ahead (``shard_training``)."""
