"""``python -m assistant store build|serve|info``."""

from __future__ import annotations

from ..config import add_settings_arguments, settings_from_args

BUILD_SETTINGS = ["store_path", "source_dir", "store_species", "store_sources"]


def add_commands(sub) -> None:
    store = sub.add_parser("store", help="Build, serve or inspect the embedded gene store.")
    cmds = store.add_subparsers(dest="store_command", required=True)

    b = cmds.add_parser("build", help="Build the SQLite gene store from public sources.")
    add_settings_arguments(b, BUILD_SETTINGS)
    b.add_argument(
        "--force", action="store_true", help="Rebuild even when the inputs did not change."
    )
    b.add_argument("--quiet", action="store_true", help="No progress bars.")
    b.set_defaults(func=run_build)

    s = cmds.add_parser("serve", help="Serve the store as MyGene.info /v3 over HTTP.")
    add_settings_arguments(
        s,
        [
            "store_path",
            "host",
            "port",
            "query_timeout_ms",
            "store_workers",
            "store_concurrency",
            "store_cache_mb",
        ],
    )
    s.add_argument(
        "--build", action="store_true", help="Build the store first when missing or stale."
    )
    s.set_defaults(func=run_serve)

    i = cmds.add_parser("info", help="Print the store's metadata and counts.")
    add_settings_arguments(i, ["store_path"])
    i.set_defaults(func=run_info)


def run_build(args) -> int:
    from .build import build

    settings = settings_from_args(args)
    report = build(settings, force=args.force, show_progress=not args.quiet)
    if report.skipped:
        print(f"store is up to date (inputs unchanged; --force rebuilds): {report.path}")
    print(report.table())
    return 0


def run_serve(args) -> int:
    from .service import serve

    settings = settings_from_args(args)
    if args.build:
        from .build import build

        print(build(settings).table())
    serve(settings)
    return 0


def run_info(args) -> int:
    import json

    from .engine import GeneStore

    store = GeneStore.open(settings_from_args(args).store_path)
    print(json.dumps(store.metadata(), indent=2))
    return 0
