"""Write a golden set of tiny run directories with the current vqlab: ``python tests/golden/make_golden.py vN``.

For each model it trains a 2-step run on generated 16x16 images, keeps config.json and the checkpoint (without
optimizer state) and records the outputs for fixed inputs in expected.safetensors (see tests/train/test_golden.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import make_images

from vqlab.train.run import load_run

EXTRA = {"vqvae": [], "vae": [], "vimco": ["--likelihood", "gaussian", "--vimco-samples", "2"]}


def main(version: str) -> None:
    out_root = HERE / version
    if out_root.exists():
        raise SystemExit(f"{out_root} exists")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_images(tmp / "imgs", n=24, size=16)
        for name, extra in EXTRA.items():
            run = tmp / name
            subprocess.run([sys.executable, "-m", "vqlab", "train", "--out", str(run), "--model", name,
                            "--data", f"folder:{tmp / 'imgs'}", "--hidden", "8", "-K", "8", "-D", "4",
                            "--batch-size", "8", "--steps", "2", "--checkpoint-every", "2", "--eval-every", "2",
                            "--log-every", "1", "--precision", "fp32", "--no-progress", *extra], check=True)
            dest = out_root / name
            dest.mkdir(parents=True)
            shutil.copy(run / "config.json", dest / "config.json")
            shutil.copytree(run / "checkpoints", dest / "checkpoints", ignore=shutil.ignore_patterns("optimizer.pt"))
            loaded = load_run(dest)
            images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
            inputs, _ = loaded.task.prepare(images)
            with torch.no_grad():
                expected = {"images": images, "reconstruct": loaded.model.reconstruct(inputs).float().contiguous()}
                if loaded.model.discrete:
                    expected["indices"] = loaded.model.encode(inputs)
            save_file(expected, str(dest / "expected.safetensors"))
            print(f"wrote {dest}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "new")
