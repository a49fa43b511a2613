"""One module per `posetune` command group; each exposes `register(subparsers)`.

A handler (the function argparse calls) turns its flags into arguments, imports the one library function
that does the command's work (search.jobs.demo, search.jobs.search, ...) and returns the exit code. That
import is the handler's only one and sits inside it, so that `posetune --help` loads neither torch nor Ray.
"""
