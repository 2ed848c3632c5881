"""The ``lpzero-gp`` command line: capture, evaluate, show, search, ablate, baselines.

Every mistake of input ends in one line ``lpzero-gp: error: ...`` naming the culprit, with
the exit status of its category (:mod:`lpzero_gp.errors`): 0 success, 1 no answer, 2 usage,
3 formula, 4 config, 5 data, 6 output, 7 capture, 70 internal error, 130 interrupted.

One module per command (:mod:`.capture`, :mod:`.evaluate`, :mod:`.spaces`, :mod:`.show`
here; ``search`` and ``ablate-rps`` in :mod:`lpzero_gp.search.cli`, ``baselines`` and its
siblings in :mod:`lpzero_gp.baselines.cli`, ``build-benchmark`` in
:mod:`lpzero_gp.benchmarks.cli`, ``pick-quality`` in :mod:`lpzero_gp.nas.cli`), each with an
``add_command(s)(subparsers)``; the options they share are defined once in :mod:`.options`.
Heavy imports (torch, the search) happen inside the command functions, so that ``--help`` and
``show`` start fast.
"""
from __future__ import annotations

import argparse

from ..errors import EXIT_STATUS_TEXT, OneLineParser, run_command
from . import capture, evaluate, show, spaces
from .options import (add_capture_options, add_data_options, bank_from_args,
                      records_from_args, settings_from_args)
from .proxies import PROXY_FILE_SUFFIXES, load_found_file, load_proxy, proxy_file

_DESCRIPTION = __doc__.split("\n\n")[0]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="lpzero-gp", description=_DESCRIPTION,
                           epilog=EXIT_STATUS_TEXT,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (capture, evaluate, spaces, show):
        command.add_command(sub)
    from ..search import cli as search_cli
    search_cli.add_commands(sub, add_capture_options)
    from ..baselines import cli as baselines_cli
    baselines_cli.add_commands(sub, add_capture_options)
    from ..benchmarks import cli as benchmarks_cli
    benchmarks_cli.add_commands(sub)
    from ..nas import cli as nas_cli
    nas_cli.add_commands(sub)
    return parser


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status (see
    :mod:`lpzero_gp.errors`): never a traceback for a mistake of input."""
    return run_command("lpzero-gp", _run, argv)


__all__ = ["PROXY_FILE_SUFFIXES", "add_capture_options", "add_data_options", "bank_from_args",
           "build_parser", "load_found_file", "load_proxy", "main", "proxy_file",
           "records_from_args", "settings_from_args"]
