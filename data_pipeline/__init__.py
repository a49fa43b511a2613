"""Everything about images before they are tensors: joint sets, readers of the real formats, the
procedural demo data, the enhancement operations, the Ray Data job and the per-trial loader.

Nothing here imports torch or Ray Tune (Ray Data is used by `pipeline` only).
"""
