"""Speed of `vqlab encode` / `decode` on one whole photograph, step by step, for each entropy coding.

Times (best of --repeat, seconds, this process's torch threads) of: the VQ-VAE encoder (image -> code map), the
entropy coder writing the .vqz bytes (the context model's passes included), reading them back, and the decoder
(code map -> image); with the file's size, bits per pixel and the number of entropy-model calls. The default
picture is the held-out test photo `coffee` resized to 768x512 (the size of a Kodak photo).

    OMP_NUM_THREADS=2 python benchmarks/codec_speed.py RUN [--entropy context,freq,packed] [--image FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch


def picture(path: Path | None, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, 3): the file, or the test photo coffee, resized to ``size`` (width, height)."""
    from PIL import Image

    from vqlab.data.photos import load_photo

    pil = Image.open(path).convert("RGB") if path else Image.fromarray(load_photo("coffee"))
    return np.asarray(pil.resize(size, Image.Resampling.LANCZOS), dtype=np.uint8).copy()


def best(fn, repeat: int):
    """(result, best wall time in seconds) of ``repeat`` calls of ``fn``."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def measure(run, image: np.ndarray, coding: str | None, repeat: int) -> dict:
    """Step timings of one picture with one coding (None: bit-packed)."""
    from vqlab.codec import VQZ, coding_steps, read_vqz, write_vqz
    from vqlab.compression import decode_maps, entropy_model, image_codes
    from vqlab.inference import downsample_factor
    from vqlab.train.run import run_fingerprint

    model = entropy_model(run, coding) if coding else None
    codes, t_enc = best(lambda: image_codes(run, image), repeat)
    f = downsample_factor(run.model)
    vqz = VQZ(run_fingerprint(run), run.model.num_codes, [image.shape[:2]], [codes], downsample=f)
    data, t_write = best(lambda: write_vqz(vqz, model), repeat)
    back, t_read = best(lambda: read_vqz(data, entropy_model=lambda c: model), repeat)
    assert np.array_equal(back.maps[0], codes)
    _, t_dec = best(lambda: decode_maps(run, back), repeat)
    calls = len(coding_steps(coding, *codes.shape)) if coding else 0
    return {"coding": coding or "packed", "grid": codes.shape, "bytes": len(data),
            "bpp": 8 * len(data) / (image.shape[0] * image.shape[1]), "calls": calls, "vqvae_encode": t_enc,
            "entropy_encode": t_write, "entropy_decode": t_read, "vqvae_decode": t_dec}


def main(argv: list[str] | None = None) -> int:
    from vqlab.train.run import load_run

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--entropy", default="context,freq,packed", help="codings to time (context,freq,packed)")
    p.add_argument("--image", type=Path, default=None, help="picture (default: the test photo coffee)")
    p.add_argument("--size", default="768x512", help="WIDTHxHEIGHT the picture is resized to (768x512)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    image = picture(args.image, (width, height))
    run = load_run(args.run)
    print(f"{args.run}: F={run.model.downsample} K={run.model.num_codes}, picture {width}x{height}, "
          f"torch threads {torch.get_num_threads()}, best of {args.repeat}")
    head = (f"{'coding':<8}{'grid':>10}{'calls':>7}{'bytes':>8}{'bpp':>7}{'VQ enc s':>10}{'ent enc s':>10}"
            f"{'ent dec s':>10}{'VQ dec s':>10}{'total s':>9}")
    print(head)
    for coding in args.entropy.split(","):
        r = measure(run, image, None if coding == "packed" else coding, args.repeat)
        total = r["vqvae_encode"] + r["entropy_encode"] + r["entropy_decode"] + r["vqvae_decode"]
        grid = f"{r['grid'][0]}x{r['grid'][1]}"
        print(f"{r['coding']:<8}{grid:>10}{r['calls']:>7}{r['bytes']:>8}{r['bpp']:>7.3f}{r['vqvae_encode']:>10.2f}"
              f"{r['entropy_encode']:>10.2f}{r['entropy_decode']:>10.2f}{r['vqvae_decode']:>10.2f}{total:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
