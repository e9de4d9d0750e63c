"""The pricer in use: prices (``pricing``), Greeks by autograd (``sensitivities``), implied
volatility (``implied_volatility``), delta and gamma sliders (``widgets``), accuracy against the
test set (``evaluation``), export and quantization (``export``), the pricing service
(``service``) and its load test (``loadtest``)."""
