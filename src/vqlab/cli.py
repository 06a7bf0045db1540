"""Command line: argument parsing only. Calls the layers below, prints, sets exit codes.

Exit codes: 0 success, 2 user error (one line ``error: ...`` on stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vqlab import __version__, shipped
from vqlab.cli_demo import add_demo, cmd_demo
from vqlab.cli_generate import (
    add_context_model,
    add_generation,
    add_prior,
    cmd_context_model,
    cmd_decode,
    cmd_encode,
    cmd_mix,
    cmd_prior,
    cmd_sample,
)
from vqlab.cli_sweep import add_report, add_sweep, cmd_report, cmd_sweep
from vqlab.cli_train import add_train, cmd_train
from vqlab.errors import ReportedElsewhere, VQLabError
from vqlab.fileio import strict_json
from vqlab.inference import DEFAULT_TILE
from vqlab.train.checkpoint import CHECKPOINT_CHOICES


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _add_inference(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test-split metrics of a trained run")
    p.add_argument("run", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--iw-samples", type=int, default=100,
                   help="samples of the importance-weighted (VAE) and multi-sample (VIMCO) bounds (100)")
    _add_checkpoint(p)
    p = sub.add_parser("compare", help="side-by-side table of runs (bits/dim with its bound, MSE, PSNR, ...)")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    p.add_argument("--iw-samples", type=int, default=100, help="samples of the VAE/VIMCO bounds (100)")
    p.add_argument("--batch-size", type=int, default=256)
    for name, what in (("colorize", "colorize grayscale or colour images (colorize runs)"),
                       ("reconstruct", "pass images through encoder, codebook and decoder")):
        p = sub.add_parser(name, help=what, description=f"{what[0].upper()}{what[1:]}. Outputs have the inputs' "
                           "size. With several inputs, a folder of images or an existing folder as -o, -o is a "
                           "folder (created) and every output is named after its input. Without a run directory "
                           f"or model name the shipped model '{shipped.DEFAULT_FOR[name]}' is used.")
        p.add_argument("images", type=Path, nargs="+", metavar="[RUN] IMAGE", help=(
            "a run directory or a shipped model's name (optional; see 'vqlab models'), then image files or folders "
            "of images"))
        p.add_argument("-o", "--output", type=Path, required=True,
                       help="output image (.png, .jpg, ...), or a folder for several inputs (created)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--tile", type=int, default=DEFAULT_TILE, metavar="PX", help=(
            f"images with a side over PX pixels are processed in overlapping PX x PX tiles, so memory stays "
            f"bounded and no seams show ({DEFAULT_TILE}; 0: whole images at once)"))
        if name == "colorize":
            p.add_argument("--chroma-scale", type=float, default=None, metavar="S", help=(
                "scale the predicted colour by S in [0, 1]: lower is safer on near-gray photos, higher more "
                "colourful (default: the model's own, e.g. the shipped colorizer's gain; 1: as trained)"))
        _add_checkpoint(p)


def _add_checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", choices=CHECKPOINT_CHOICES, default="latest", help=(
        "latest (default) or best: the checkpoint with the best validation PSNR (runs on data with a val split)"))


def _add_models(sub: Any) -> None:
    p = sub.add_parser("models", help="list the trained models shipped with vqlab (usable by name, no training)")
    p.add_argument("--json", action="store_true", help="print the model cards as one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vqlab", description="Discrete image representations with VQ-VAE.")
    parser.add_argument("--version", action="version", version=f"vqlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_train(sub)
    _add_inference(sub)
    add_prior(sub)
    add_generation(sub)
    add_context_model(sub)
    add_sweep(sub)
    _add_models(sub)
    add_report(sub)
    add_demo(sub)
    return parser


def cmd_evaluate(args: argparse.Namespace) -> int:
    from vqlab.experiments.evaluation import evaluate_run

    metrics = evaluate_run(args.run, iw_samples=args.iw_samples, batch_size=args.batch_size, use_cache=False,
                           checkpoint=args.checkpoint)
    metrics = {"run": str(args.run), **{k: v for k, v in metrics.items() if k != "run"}}
    if args.json:
        print(strict_json(metrics))  # NaN (a metric that does not apply) as null
    else:
        for k, v in metrics.items():
            print(f"{k:>20}: {v:.6g}" if isinstance(v, float) else f"{k:>20}: {v}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from vqlab.experiments.compare import FORMATS
    from vqlab.experiments.evaluation import evaluate_run

    results = []
    for run in args.runs:
        metrics = evaluate_run(run, iw_samples=args.iw_samples, batch_size=args.batch_size)
        results.append({**metrics, "name": run.name or str(run)})
    fmt = "markdown" if args.markdown else "csv" if args.csv else "text"
    sys.stdout.write(FORMATS[fmt](results))
    return 0


def _split_run(inputs: list[Path], command: str) -> tuple[str | Path, list[Path]]:
    """(run directory or shipped name, images): the first input when it is a run directory or a shipped model's
    name (and not an existing file), else the command's default shipped model."""
    first = inputs[0]
    if shipped.is_run_dir(first) or (not first.exists() and str(first) in shipped.names()):
        if len(inputs) == 1:
            raise VQLabError(f"no images given after the model {first}")
        return first, inputs[1:]
    return shipped.DEFAULT_FOR[command], inputs


def _image_jobs(inputs: list[Path], output: Path) -> list[tuple[Path, Path]]:
    """(input, output) file pairs: one input file goes to the file ``output``; several inputs, folders (their
    image files, sorted, not recursive) or an existing folder ``output`` put each output into the folder ``output``
    under its input's file name."""
    from vqlab.images import image_extensions, output_format

    files, to_folder = [], len(inputs) > 1 or output.is_dir()
    for path in inputs:
        if path.is_dir():
            to_folder = True
            found = sorted(f for f in path.iterdir()
                           if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in image_extensions())
            if not found:
                raise VQLabError(f"no image files in folder {path}")
            files += found
        elif not path.exists():
            raise VQLabError(f"image file not found: {path}")
        else:
            files.append(path)
    if not to_folder:
        output_format(output)
        return [(files[0], output)]
    if output.exists() and not output.is_dir():
        raise VQLabError(f"-o {output} is a file; with several images -o must be a folder")
    jobs, taken = [], {}
    for src in files:
        dst = output / src.name
        output_format(dst)
        if dst.name in taken:
            raise VQLabError(f"{taken[dst.name]} and {src} would both be written to {dst}")
        if dst.resolve() == src.resolve():
            raise VQLabError(f"writing to {output} would overwrite the input {src}; choose another -o")
        taken[dst.name] = src
        jobs.append((src, dst))
    return jobs


def cmd_models(args: argparse.Namespace) -> int:
    cards = {name: shipped.card(name) for name in shipped.names()}
    if args.json:
        print(strict_json(cards))
        return 0
    if not cards:
        print("no shipped models in this installation")
    for name, c in cards.items():
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in c.get("metrics", {}).items() if isinstance(v, (int, float)))
        print(f"{name}: {c.get('description', '')}")
        print(f"    task {c.get('task')}, data {c.get('data')}, step {c.get('step')}"
              + (", with a PixelCNN prior (sample, mix)" if c.get("prior") else ""))
        print(f"    test ({c.get('subset_images')} images): {metrics}")
        whole = c.get("whole_photos")
        if isinstance(whole, dict) and "validation_mean_gain_db" in whole:
            worst = whole.get("worst_photo") or {}
            print(f"    whole photos never seen: {whole['validation_mean_gain_db']:+.2f} dB over gray on "
                  f"{whole.get('validation_photos', '?')} validation photos (worst {worst.get('gain_db', float('nan')):+.2f}"
                  f" dB), {whole.get('test_mean_gain_db', float('nan')):+.2f} dB on the test photos, "
                  f"{whole.get('colourfulness_share', float('nan')):.0%} of their colourfulness"
                  + (f"; chroma gain {c['chroma_scale']:.2f}" if "chroma_scale" in c else ""))
        print(f"    trained with: {c.get('command')}")
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vqlab.api import load
    from vqlab.images import save_image

    if args.tile < 0:
        raise VQLabError(f"--tile must be 0 (no tiling) or a positive number of pixels, not {args.tile}")
    run, images = _split_run(args.images, args.command)
    jobs = _image_jobs(images, args.output)
    model = load(run, checkpoint=args.checkpoint, chroma_scale=getattr(args, "chroma_scale", None))
    transform = model.colorize if args.command == "colorize" else model.reconstruct
    for src, dst in tqdm(jobs, unit="image", disable=args.no_progress or len(jobs) == 1):
        save_image(dst, transform(src, tile=args.tile))
    print(f"wrote {args.output}" if len(jobs) == 1 and jobs[0][1] == args.output
          else f"wrote {len(jobs)} images to {args.output}")
    return 0


COMMANDS = {
    "train": cmd_train, "evaluate": cmd_evaluate, "compare": cmd_compare, "colorize": cmd_image,
    "reconstruct": cmd_image, "prior": cmd_prior, "sample": cmd_sample, "mix": cmd_mix, "encode": cmd_encode,
    "decode": cmd_decode, "context-model": cmd_context_model, "sweep": cmd_sweep, "report": cmd_report,
    "models": cmd_models, "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vqlab`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except VQLabError as exc:
        if not isinstance(exc, ReportedElsewhere):  # under torchrun rank 0 alone prints a shared error
            sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; the last checkpoint is kept (continue with --resume)\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
