"""`proctor-masker`: serve masking over NATS (the default), or mask text from the command line.

proctor-masker                                    serve on proctor.rpc.mask
proctor-masker scan "mail alice@example.com, card 4111 1111 1111 1111"
echo "token ghp_..." | proctor-masker scan        one value per input line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from proctor.runtime import run_service
from proctor.settings import Settings
from proctor_masker.core import mask
from proctor_masker.model import Column, ColumnKind, MaskRequestBatch, MaskSettings
from proctor_masker.service import MaskerService


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="proctor-masker", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = top.add_subparsers(dest="command")
    commands.add_parser("serve", help="answer mask requests over NATS (the default)")
    scan = commands.add_parser("scan", help="print values masked, and the counts to stderr")
    scan.add_argument("values", nargs="*", help="values to mask (default: lines of stdin)")
    scan.add_argument("--json", action="store_true", help="treat each value as a JSON document")
    return top


async def serve(settings: Settings) -> None:
    service = MaskerService(settings, MaskSettings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in (None, "serve"):
        return run_service("proctor-masker", serve, fast_loop=True)
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    values = args.values or [line.rstrip("\n") for line in sys.stdin]
    kind = ColumnKind.JSON if args.json else ColumnKind.TEXT
    batch = MaskRequestBatch(
        columns=(Column("value", kind.value, kind),), rows=tuple((v,) for v in values)
    )
    result = mask(batch, MaskSettings())
    for (masked,) in result.rows:
        print(masked)
    print(json.dumps(result.report.by_entity(), sort_keys=True), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
