"""python -m models.data: build training data sets.

    python -m models.data images --from openclipart-png --out data/clipart [--size 256]
    python -m models.data images --from ~/my-photos --licence "CC-BY-4.0, me" --out data/mine
    python -m models.data strokes --from hershey-fonts-data --from python3-kanjidraw --out data/strokes
    python -m models.data poetry --out data/poetry
"""

from __future__ import annotations

import argparse
import os
import sys

from models.data import images, poetry, strokes


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line: one subcommand per kind of data set."""
    ap = argparse.ArgumentParser(prog="python -m models.data", description="Build training data sets.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    im = sub.add_parser("images", help="square crops for the GAN from Debian packages or folders",
                        description=(images.__doc__ or "").split("\n\n")[-1])
    images.add_arguments(im)
    st = sub.add_parser("strokes", help="stroke-5 pen strokes for the drawing voice from Debian "
                        "packages or SVG folders", description=(strokes.__doc__ or "").split("\n\n")[-1])
    strokes.add_arguments(st)
    po = sub.add_parser("poetry", help="verse for the poetry text model from the fortunes package",
                        description=(poetry.__doc__ or "").split("\n\n")[-1])
    poetry.add_arguments(po)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Dispatch to the subcommand."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.command == "images":
        images.main(args, argv)
    elif args.command == "strokes":
        strokes.main(args, argv)
    elif args.command == "poetry":
        poetry.main(args, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
