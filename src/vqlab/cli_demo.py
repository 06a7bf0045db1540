"""Command line for ``vqlab demo`` (parsing only; the page is :mod:`vqlab.demo`)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from vqlab.demo import MAX_PIXELS
from vqlab.errors import VQLabError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MEGAPIXELS = MAX_PIXELS / 1e6


def add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="serve the web demo (Gradio) of the shipped models on localhost",
                       description="Serve a web page with colorize, reconstruct, mix and sample tabs on the shipped "
                       "models (needs pip install \"vqlab[demo]\"). It listens on 127.0.0.1 unless --host says "
                       "otherwise, takes uploads of at most 20 MB and --max-megapixels, and queues requests.")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on ({DEFAULT_HOST}: this machine only; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument("--model", default=None, metavar="NAME_OR_RUN",
                   help="shipped model name or run directory for the colorize or reconstruct tab (by its task); "
                   "default: the shipped 'colorize' and 'photos'")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MEGAPIXELS, metavar="MP",
                   help=f"largest upload in megapixels, checked before decoding ({DEFAULT_MEGAPIXELS:g}; reconstructing "
                   "a 12 MP image takes about 5 GB of memory)")


def cmd_demo(args: argparse.Namespace) -> int:
    from vqlab.demo import serve

    if not (math.isfinite(args.max_megapixels) and args.max_megapixels > 0):
        raise VQLabError(f"--max-megapixels must be a positive number, not {args.max_megapixels}")
    serve(host=args.host, port=args.port, model=args.model, max_pixels=round(args.max_megapixels * 1e6))
    return 0
