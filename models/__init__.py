"""Torch: the stacked hourglass, domain-adversarial parts, heatmap codec, losses, metrics and `fit()`.

Nothing here imports Ray: `fit` reports through a callback so it runs bare, in a script or in a trial.
"""
