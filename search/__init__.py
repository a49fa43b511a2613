"""Ray Tune, Optuna and W&B: the experiment config, the search space, the trainable that wraps
`models.fit`, the Tuner, and the `posetune` command line."""
