"""Command line for ``vqlab demo`` (parsing only; the page is :mod:`vqlab.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="serve the web demo (Gradio) of the shipped models on localhost",
                       description="Serve a web page with colorize, reconstruct, mix and sample tabs on the shipped "
                       "models (needs pip install \"vqlab[demo]\"). It listens on 127.0.0.1 unless --host says "
                       "otherwise, takes uploads of at most 20 MB and 25 megapixels, and queues requests.")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on ({DEFAULT_HOST}: this machine only; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument("--model", default=None, metavar="NAME_OR_RUN",
                   help="shipped model name or run directory for the colorize or reconstruct tab (by its task); "
                   "default: the shipped 'colorize' and 'photos'")


def cmd_demo(args: argparse.Namespace) -> int:
    from vqlab.demo import serve

    serve(host=args.host, port=args.port, model=args.model)
    return 0
