"""`posetune search launch|resume|inspect|export`: run a search on a Ray cluster and read it back."""

from __future__ import annotations

import argparse
import json
import sys

ADDRESS_HELP = (
    "Ray cluster to join (e.g. auto, ray://head:10001, 10.0.0.5:6379); default: $RAY_ADDRESS, "
    "else a new local Ray on this machine"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser(
        "search",
        help="launch, resume, inspect and export hyperparameter searches",
        description="Ray Tune + Optuna (TPE) + ASHA over hourglass trials, tracked in W&B.",
    )
    sub = search.add_subparsers(dest="search_command", metavar="SEARCH_COMMAND", required=True)

    launch = sub.add_parser(
        "launch",
        help="start a search from a config",
        description="Enhance the data if its shards don't exist yet, then run the search with Tune's live table.",
    )
    launch.add_argument("config", help="YAML config file, or a shipped one: demo, surreal_lsp")
    launch.add_argument("--name", help="experiment name (default: <config name>-<timestamp>)")
    launch.add_argument("--storage", help="experiment storage: a local dir, s3://bucket/prefix or gs://...")
    launch.add_argument("--address", help=ADDRESS_HELP)
    launch.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.epochs=4 --set search.num_samples=16",
    )  # fmt: skip
    launch.add_argument(
        "--resume-if-exists",
        action="store_true",
        help="if the experiment already exists, resume it instead of refusing (for resubmitted cluster jobs)",
    )
    launch.set_defaults(func=_launch)

    resume = sub.add_parser("resume", help="continue an interrupted or crashed search")
    resume.add_argument("path", help="experiment folder or URI (<storage>/<name>)")
    resume.add_argument("--address", help=ADDRESS_HELP)
    resume.set_defaults(func=_resume)

    inspect = sub.add_parser("inspect", help="table of trials, the best one, and plots")
    inspect.add_argument("path", help="experiment folder or URI")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of the table")
    inspect.add_argument("--no-plots", action="store_true", help="don't write the PNG plots")
    inspect.set_defaults(func=_inspect)

    export = sub.add_parser("export", help="the best checkpoint as one self-contained model file")
    export.add_argument("path", help="experiment folder or URI")
    export.add_argument("--metric", help="metric to pick the best checkpoint by (default: the search's)")
    export.add_argument("--mode", choices=("max", "min"), help="default: the search's")
    export.add_argument("--out", default="best.pt", help="output file (default: best.pt)")
    export.add_argument("--onnx", action="store_true", help="also write <out>.onnx")
    export.set_defaults(func=_export)


def _print_outcome(outcome) -> int:
    from search.tuner import raise_if_interrupted

    print(
        f"\n{outcome.finished} finished, {outcome.errored} errored, {outcome.unfinished} unfinished "
        f"of {outcome.num_trials} trials in {outcome.experiment_uri}"
    )
    if outcome.best:
        metrics = outcome.best["metrics"]
        shown = {k: round(v, 4) for k, v in metrics.items() if k.startswith("target_val_pdj")}
        print(f"best trial {outcome.best['trial_id']}: {shown}")
    raise_if_interrupted(outcome)
    print(f"next: posetune search inspect {outcome.experiment_uri}")
    return 0


def _ask_to_resume(uri: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{uri} already exists. Resume it? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _launch(args) -> int:
    from search.config import join_uri, load_config
    from search.tuner import experiment_exists, launch

    config = load_config(args.config, args.overrides)
    if_exists = "resume" if args.resume_if_exists else "error"
    if args.name and not args.resume_if_exists:
        uri = join_uri(args.storage or config.storage.path, args.name)
        if experiment_exists(uri) and _ask_to_resume(uri):
            if_exists = "resume"
    outcome = launch(config, name=args.name, storage=args.storage, address=args.address, if_exists=if_exists)
    return _print_outcome(outcome)


def _resume(args) -> int:
    from search.tuner import resume

    return _print_outcome(resume(args.path, address=args.address))


def _inspect(args) -> int:
    from search.inspect import format_table, inspect

    result = inspect(args.path, plots=not args.no_plots)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        print(format_table(result))
    return 0


def _export(args) -> int:
    from search.export import export_best

    written = export_best(args.path, out=args.out, metric=args.metric, mode=args.mode, onnx=args.onnx)
    for path in written:
        print(f"wrote {path}")
    return 0
