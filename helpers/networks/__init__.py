"""The pricing networks: the article's MLP (``mlp``), the pricer homogeneous in
``(K, B, S0)`` (``homogeneous``), the closed form plus a network that corrects it
(``residual``), and building and loading them, the shipped pretrained one included
(``loading``)."""
