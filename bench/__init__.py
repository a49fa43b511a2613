"""Benchmarks and measurements of posetune, each a script run from the repository root as
`python -m bench.NAME [--help]`; their results and write-ups live in bench/results/.

Shared by the scripts: `bench.common` (paths, the replays' arguments, the strategy-curve plot),
`bench.tables` (the recorded learning-curve tables), `bench.demo_shards` and `bench.tiny` (small setups).
"""
