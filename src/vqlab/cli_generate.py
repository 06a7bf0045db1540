"""Command line for the generation commands: prior, sample, mix, encode, decode, context-model (parsing and printing
only).

Registered by :mod:`vqlab.cli`; the work happens in :mod:`vqlab.train.prior`, :mod:`vqlab.generate` and
:mod:`vqlab.compression` (with :mod:`vqlab.rates` and :mod:`vqlab.train.context`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vqlab.fileio import strict_json


def add_prior(sub: Any) -> None:
    p = sub.add_parser("prior", help="train a PixelCNN prior over a VQ-VAE run's code maps", description=(
        "Encode the training split once (cached in RUN/prior), train a gated PixelCNN over the code maps, store "
        "it in RUN/prior, and report its test NLL and the VQ-VAE's bits/dim with the learned vs the uniform prior."))
    p.add_argument("run", type=Path)
    p.add_argument("--steps", type=int, default=2000, help="optimizer steps (2000)")
    p.add_argument("--batch-size", type=int, default=64, help="code maps per step (64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    p.add_argument("--dim", type=int, default=64, help="channels of the PixelCNN (64)")
    p.add_argument("--layers", type=int, default=8, help="gated layers (8)")
    p.add_argument("--kernel", type=int, default=3, help="odd kernel size (3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=None, help="also stop after this much training time")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_generation(sub: Any) -> None:
    p = sub.add_parser("sample", help="new images from a run's prior (VQ-VAE: its PixelCNN; VAE: N(0, I))")
    p.add_argument("run", type=Path, help="run directory or shipped model's name (e.g. fashion)")
    p.add_argument("-n", type=int, default=64, help="number of images (64)")
    p.add_argument("--temperature", type=float, default=1.0, help="divides the prior's logits / scales z (1.0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="grid image to write; the extension sets the format (.png, .jpg, ...)")
    p = sub.add_parser("mix", help="mix the latents of two images (splice by a mask, or interpolate)")
    p.add_argument("run", type=Path, help="run directory or shipped model's name (e.g. fashion)")
    p.add_argument("a", type=Path, metavar="A")
    p.add_argument("b", type=Path, metavar="B")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="grid image to write, A | mixes | B; the extension sets the format (.png, .jpg, ...)")
    p.add_argument("--mode", default="left-right",
                   help="left-right (default), top-bottom, checker, mask:FILE (white takes A), interpolate")
    p.add_argument("--steps", type=int, default=8, help="interpolation steps including both ends (8)")
    p = sub.add_parser("encode", help="store images as VQ-VAE code indices in a .vqz file, with a size report",
                       description="Store images as the code maps of a VQ-VAE run in a .vqz file and report its size "
                       "and PSNR beside PNG and JPEG. RUN is a run directory, or a rate folder: a folder of run "
                       "directories trained for different rates (e.g. --downsample 4, 8, 16), among which "
                       "--quality or --target-bpp chooses.")
    p.add_argument("run", type=Path, help=(
        "run directory, a folder of run directories (rate points), or a shipped model's name (photos)"))
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", type=Path, required=True, help=".vqz file to write")
    p.add_argument("--entropy", nargs="?", const="prior", default=None, choices=("context", "prior", "freq"),
                   help="also range-code the indices: 'context' with the run's wavefront context model (fast on "
                        "whole photographs; needs 'vqlab context-model RUN'), 'prior' (the default value) with the "
                        "PixelCNN prior (one pass per code: at most 1024 codes per image), 'freq' with the training "
                        "split's code histogram (both need 'vqlab prior RUN'). Decoding then needs only the run "
                        "directory. Put --entropy after the images or give it a value")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=int, default=None, metavar="Q",
                      help="rate point Q of a rate folder: 1 is the lowest rate, N the highest (ordered by the "
                           "bit-packed rate log2(K)/F^2 of each run)")
    rate.add_argument("--target-bpp", type=float, default=None, metavar="X",
                      help="code with every rate point of the folder and keep the largest file of at most X bits "
                           "per pixel (header included); if none is that small, the smallest")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p = sub.add_parser("decode", help="decode a .vqz file written by this run (or a run of this rate folder)")
    p.add_argument("run", type=Path, help="run directory, a rate folder (the run that wrote the file is found "
                   "by its model fingerprint), or a shipped model's name")
    p.add_argument("file", type=Path, metavar="FILE.vqz")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for image_000.png, ...")


def add_context_model(sub: Any) -> None:
    p = sub.add_parser("context-model", help="train the wavefront context model that 'vqlab encode --entropy "
                       "context' codes whole photographs with", description=(
                           "Encode the run's training pictures once (whole photographs for the photos and "
                           "photos-wide datasets, cached in RUN/context), train a small MLP that predicts each code "
                           "from neighbours on earlier anti-diagonals, store it in RUN/context and report its test "
                           "bits per code beside the code histogram's and the uniform log2 K."))
    p.add_argument("run", type=Path)
    p.add_argument("--steps", type=int, default=3000, help="optimizer steps (3000)")
    p.add_argument("--batch-size", type=int, default=1024, help="code positions per step (1024)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, cosine-decayed to 5%% (2e-3)")
    p.add_argument("--radius", type=int, default=2, help="context reach: 2 gives 10 neighbours, 3 gives 21 (2)")
    p.add_argument("--embed-dim", type=int, default=32, help="embedding size per neighbour (32)")
    p.add_argument("--hidden", type=int, default=256, help="width of the MLP's hidden layers (256)")
    p.add_argument("--layers", type=int, default=2, help="hidden layers of the MLP (2)")
    p.add_argument("--dropout", type=float, default=0.3, help="dropout after each hidden layer in training (0.3)")
    p.add_argument("--max-side", type=int, default=768,
                   help="whole photographs are shrunk to at most this many pixels per side (768)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=None, help="also stop after this much training time")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_context_model(args: argparse.Namespace) -> int:
    from vqlab.train.context import ContextConfig, fit_context

    ccfg = ContextConfig(radius=args.radius, embed_dim=args.embed_dim, hidden=args.hidden, layers=args.layers,
                         dropout=args.dropout, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         max_side=args.max_side, max_minutes=args.max_minutes)
    r = fit_context(args.run, ccfg, progress=not args.no_progress)
    if args.json:
        print(strict_json(r))
        return 0
    print(f"context model: {r['step']} steps on {r['train_codes']} codes, test {r['nll_bits_per_code']:.3f} "
          f"bits/code on {r['test_codes']} codes (code histogram: {r['freq_bits_per_code']:.3f}, uniform: "
          f"{r['uniform_bits_per_code']:.3f})")
    print(f"context model stored in {args.run / 'context'}")
    return 0


def cmd_prior(args: argparse.Namespace) -> int:
    from vqlab.train.prior import PriorConfig, fit_prior

    pcfg = PriorConfig(dim=args.dim, layers=args.layers, kernel=args.kernel, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed, max_minutes=args.max_minutes)
    r = fit_prior(args.run, pcfg, progress=not args.no_progress)
    if args.json:
        print(strict_json(r))
        return 0
    print(f"prior: {r['prior_steps']} steps, test NLL {r['prior_nll_bits_per_latent']:.3f} bits/latent "
          f"(uniform: {r['uniform_bits_per_latent']:.3f})")
    print(f"{'bits/dim':>10} {'recon':>8} {'rate':>8} {'total':>8}")
    print(f"{'uniform':>10} {r['recon_bits_per_dim']:8.4f} {r['uniform_rate_bits_per_dim']:8.4f} "
          f"{r['bits_per_dim_uniform']:8.4f}")
    print(f"{'PixelCNN':>10} {r['recon_bits_per_dim']:8.4f} {r['prior_rate_bits_per_dim']:8.4f} "
          f"{r['bits_per_dim_prior']:8.4f}")
    print(f"prior stored in {args.run / 'prior'}")
    return 0


def _load_for_generation(run: Path):
    """A run directory, or a shipped model's name (``vqlab sample fashion -o s.png``)."""
    from vqlab import shipped
    from vqlab.train.device import default_device
    from vqlab.train.run import load_run

    return load_run(shipped.resolve(run), default_device())


def cmd_sample(args: argparse.Namespace) -> int:
    from vqlab.generate import sample_images, tile
    from vqlab.images import output_format, save_image, to_pil

    output_format(args.output)  # an unknown extension is refused before any work
    images = sample_images(_load_for_generation(args.run), args.n, temperature=args.temperature, seed=args.seed)
    save_image(args.output, to_pil(tile(images, scale=max(1, 128 // images.shape[-1]))))
    print(f"wrote {args.output} ({args.n} samples, temperature {args.temperature}, seed {args.seed})")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    from vqlab.generate import mix_images
    from vqlab.images import output_format, save_image, to_pil

    output_format(args.output)  # an unknown extension is refused before any work
    save_image(args.output, to_pil(mix_images(_load_for_generation(args.run), args.a, args.b, args.mode,
                                              args.steps)))
    print(f"wrote {args.output}")
    return 0


def _format_compression(r: dict[str, Any], out: Path) -> str:
    lines = [f"{out}: {r['images']} images, {r['pixels']} pixels, {r['codes']} codes of K={r['K']} ({r['coding']})",
             f"{'format':<22}{'bytes':>9}{'bpp':>9}{'PSNR dB':>9}{'ratio':>8}",
             f"{'.vqz ' + r['coding']:<22}{r['file_bytes']:>9}{r['bpp']:>9.3f}{r['psnr']:>9.2f}{1.0:>8.2f}",
             f"{'PNG (lossless)':<22}{r['png_bytes']:>9}{r['png_bpp']:>9.3f}{'inf':>9}{r['ratio_png']:>8.2f}"]
    if r["jpeg_bytes"] is None:
        lines.append("JPEG: no quality reaches the .vqz PSNR")
    else:
        lines.append(f"{'JPEG q=' + str(r['jpeg_quality']) + ' (equal PSNR)':<22}{r['jpeg_bytes']:>9}"
                     f"{r['jpeg_bpp']:>9.3f}{r['jpeg_psnr']:>9.2f}{r['ratio_jpeg']:>8.2f}")
    lines.append("ratio = that format's bytes / the .vqz bytes (headers included)")
    return "\n".join(lines)


def _format_rate_points(r: dict[str, Any]) -> str:
    lines = ["rate points (Q: run, downsampling F, K, bit-packed rate" + (", measured bpp)" if "target_bpp" in r
                                                                        else ")")]
    for q, p in enumerate(r["rate_points"], start=1):
        measured = f"{p['bpp']:>9.3f}" if "bpp" in p else ""
        mark = "  <- chosen" if q == r["quality"] else ""
        lines.append(f"  {q} {p['run']:<24} F={p['downsample']:<3} K={p['K']:<6} {p['nominal_bpp']:.3f}{measured}"
                     f"{mark}")
    if r.get("target_met") is False:
        lines.append(f"no rate point reaches {r['target_bpp']} bpp; the smallest file was kept")
    return "\n".join(lines)


def cmd_encode(args: argparse.Namespace) -> int:
    from vqlab import shipped
    from vqlab.rates import encode_at_rate
    from vqlab.train.device import default_device

    report = encode_at_rate(shipped.resolve(args.run), args.images, args.output, args.entropy, quality=args.quality,
                            target_bpp=args.target_bpp, device=default_device())
    if args.json:
        print(strict_json(report))
        return 0
    print(_format_compression(report, args.output))
    if len(report["rate_points"]) > 1:
        print(_format_rate_points(report))
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from vqlab import shipped
    from vqlab.rates import decode_at_rate, rate_points
    from vqlab.train.device import default_device

    run = shipped.resolve(args.run)
    run_dir, written = decode_at_rate(run, args.file, args.output, default_device())
    by = f" (written by {run_dir})" if len(rate_points(run)) > 1 else ""
    print(f"wrote {len(written)} images to {args.output}{by}")
    return 0
