"""`posetune search launch|resume|inspect|export`: run a search on a Ray cluster and read it back."""

from __future__ import annotations

import argparse
import json

from search.commands.arguments import add_address, add_config, add_overrides, config_of


def register(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser(
        "search",
        help="launch, resume, inspect and export hyperparameter searches",
        description=(
            "Ray Tune + Optuna (TPE) + ASHA over hourglass trials, tracked in W&B. An experiment lives in "
            "<storage.path>/<name> (a local folder, s3:// or gs://): launch creates it, resume continues it "
            "after a crash or a stop, inspect and export read it back."
        ),
    )
    sub = search.add_subparsers(dest="search_command", metavar="SEARCH_COMMAND", required=True)
    _add_launch(sub)
    _add_resume(sub)
    _add_inspect(sub)
    _add_export(sub)


def _add_launch(sub: argparse._SubParsersAction) -> None:
    launch = sub.add_parser(
        "launch",
        help="start a search from a config",
        description=(
            "Validates the config, joins the Ray cluster (--address, $RAY_ADDRESS) or starts a local Ray, "
            "enhances the data if its shards don't exist yet, then runs the search with Tune's live table. "
            "Example: posetune search launch --config demo --name first --set search.num_samples=16"
        ),
    )
    add_config(launch, was_positional=True)
    launch.add_argument("--name", help="experiment name (default: <config name>-<timestamp>)")
    launch.add_argument("--storage", help="experiment storage: a local dir, s3://bucket/prefix or gs://...")
    add_address(launch)
    add_overrides(launch)
    launch.add_argument(
        "--resume-if-exists",
        action="store_true",
        help="if the experiment already exists, resume it instead of refusing (for resubmitted cluster jobs)",
    )
    launch.add_argument(
        "--check",
        action="store_true",
        help="validate the config and what it names (shards, warm-start checkpoint, experiment name), "
        "print the resolved config and the experiment it would write, and start nothing",
    )
    launch.set_defaults(func=_launch)


def _add_resume(sub: argparse._SubParsersAction) -> None:
    resume = sub.add_parser(
        "resume",
        help="continue an interrupted or crashed search",
        description="Finished trials stay; unfinished and errored ones continue from their last checkpoint.",
    )
    resume.add_argument("path", help="experiment folder or URI (<storage>/<name>)")
    resume.add_argument(
        "--more", type=int, default=0, metavar="N",
        help="add N trials to the search (finished or not): the same Optuna study proposes them, the same "
        "ASHA rungs judge them",
    )  # fmt: skip
    add_address(resume)
    resume.set_defaults(func=_resume)


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    inspect = sub.add_parser("inspect", help="table of trials, the best one, and plots")
    inspect.add_argument("path", help="experiment folder or URI")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of the table")
    inspect.add_argument("--no-plots", action="store_true", help="don't write the PNG plots")
    inspect.set_defaults(func=_inspect)


def _add_export(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="the best checkpoint as one self-contained model file")
    export.add_argument("path", help="experiment folder or URI")
    export.add_argument("--metric", help="metric to pick the best checkpoint by (default: the search's)")
    export.add_argument("--mode", choices=("max", "min"), help="default: the search's")
    export.add_argument("--out", default="best.pt", help="output file (default: best.pt)")
    export.add_argument("--onnx", action="store_true", help="also write <out>.onnx")
    export.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out that posetune exported"
    )
    export.set_defaults(func=_export)


def _launch(args) -> int:
    from search.jobs.search import launch_search

    config = config_of(args, "posetune search launch")
    launch_search(config, args.overrides, name=args.name, storage=args.storage, address=args.address,
                  resume_if_exists=args.resume_if_exists, check=args.check)  # fmt: skip
    return 0


def _resume(args) -> int:
    from search.jobs.search import resume_search

    resume_search(args.path, address=args.address, more=args.more)
    return 0


def _inspect(args) -> int:
    from search.results.trials import format_table, inspect

    result = inspect(args.path, plots=not args.no_plots)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        print(format_table(result))
    return 0


def _export(args) -> int:
    from search.export import export_best

    written = export_best(
        args.path, out=args.out, metric=args.metric, mode=args.mode, onnx=args.onnx, overwrite=args.overwrite
    )
    for path in written:
        print(f"wrote {path}")
    return 0
