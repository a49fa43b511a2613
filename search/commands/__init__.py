"""One module per `posetune` command group; each exposes `register(subparsers)`.

Handlers import their heavy dependencies (torch, Ray) lazily so `posetune --help` stays instant.
"""
