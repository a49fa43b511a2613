"""Torch: the stacked hourglass, domain-adversarial parts, heatmap codec, losses, metrics and `fit()`.

Nothing here imports Ray: `fit` reports through a callback so it runs bare, in a script or in a trial.
One concern per module: `config` (the settings, no torch), `hourglass` (the network), `heatmaps` (the
codec), `targets` (a config's heatmap targets and decoding), `losses`, `adversarial` (gradient reversal,
domain classifier), `runtime` (device and precision), `loaders` (the data `fit` reads, its batches),
`train` (`fit` and its phases), `checkpoints` (checkpoint I/O, warm start), `evaluation` (predict,
evaluate), `metrics` and `metric_names`, `label_free` (scores without target labels), `export`, `overlay`.
"""
