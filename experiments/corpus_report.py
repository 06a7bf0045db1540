#!/usr/bin/env python3
"""Print the photos-wide source and photo tables (markdown) and draw its contact sheets for docs/data.md.

    PYTHONPATH=src python experiments/corpus_report.py [--out docs/figures] [--cache-dir DIR]

Builds (or reads from the cache) ``photos-wide`` at 32x32 with the packages installed here, then prints one
table per source and one per photo from the cache metadata, and writes ``photos_wide_val.jpg`` (the validation
photographs) and ``photos_wide_all.jpg`` (every photograph used; label colour: train black, val blue, test
red) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from PIL import Image, ImageDraw

from vqlab.data import photos_wide as W
from vqlab.data.corpus import SOURCES

SPLIT_COLOURS = {"train": (40, 40, 40), "val": (0, 90, 200), "test": (200, 40, 0)}


def contact_sheet(photos: list[W.Photo], labels: list[str], colours: list[tuple[int, int, int]], thumb: int,
                  columns: int) -> Image.Image:
    """Thumbnails (longer side ``thumb``) on a white grid, a label under each."""
    label_h = 14
    rows = (len(photos) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (thumb + 6), rows * (thumb + label_h + 6)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (photo, label, colour) in enumerate(zip(photos, labels, colours)):
        image = Image.fromarray(photo.load(max_side=thumb))
        x, y = (i % columns) * (thumb + 6) + 3, (i // columns) * (thumb + label_h + 6) + 3
        sheet.paste(image, (x + (thumb - image.width) // 2, y + (thumb - image.height) // 2))
        draw.text((x, y + thumb + 1), label[: thumb // 6], fill=colour)
    return sheet


SHORT_PREFIXES = {
    "gcompris/categorization/": "gc/", "gcompris/": "gc/", "kphotoalbum/": "kpa/", "gimp-help/": "gh/",
    "tuxpaint/": "tux/", "kalzium/": "kz/", "palapeli/": "pal/", "stellarium/": "st/",
}


def short(name: str) -> str:
    """A photo's label on a sheet: long prefixes shortened, so the part that names the picture fits."""
    for prefix, abbreviation in SHORT_PREFIXES.items():
        if name.startswith(prefix):
            return abbreviation + name[len(prefix):]
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        W.load_photos_wide(cache_dir=args.cache_dir)
    for w in caught:
        print(f"note: {w.message}")
    selection = W.select_photos()
    meta = json.loads(W.cache_paths(32, W.cache_key(selection, 32), args.cache_dir)["meta"].read_text())
    records = meta["photos"]

    print(f"\ncrops (32x32): {meta['counts']}, cache key {meta['key']}\n")
    print("| package | kind | version | licence | photos used | train / val / test photos | longer side (px) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    catalogue = {s: [p for p in W.CATALOGUE if p.source is s] for s in SOURCES}
    for source in SOURCES:
        rows = [r for r in records if r["package"] == source.package]
        by_split = "/".join(str(sum(r["split"] == s for r in rows)) for s in W.SPLITS)
        sizes = sorted({max(r["original_size"]) for r in rows})
        size_text = f"{sizes[0]}-{sizes[-1]}" if len(sizes) > 1 else (str(sizes[0]) if sizes else "-")
        version = rows[0]["version"] if rows else "not installed"
        print(f"| {source.package} | {source.kind} | {version} | {source.licence} | "
              f"{len(rows)} of {len(catalogue[source])} | {by_split} | {size_text} |")

    print("\n| photo | package | split | stored size (px) | crops | licence |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in records:
        w, h = r["original_size"]
        print(f"| {r['name']} | {r['package']} | {r['split']} | {w}x{h} | {r['crops']} | "
              f"{r['licence']} |")

    used = {p.name: p for p in selection.photos}
    args.out.mkdir(parents=True, exist_ok=True)
    val = [used[r["name"]] for r in records if r["split"] == "val"]
    contact_sheet(val, [short(p.name) for p in val], [SPLIT_COLOURS["val"]] * len(val), 150, 8).save(
        args.out / "photos_wide_val.jpg", quality=72, optimize=True)
    every = [used[r["name"]] for r in records]
    labels = [short(r["name"]) for r in records]
    colours = [SPLIT_COLOURS[r["split"]] for r in records]
    contact_sheet(every, labels, colours, 84, 16).save(args.out / "photos_wide_all.jpg", quality=72, optimize=True)
    print(f"\nwrote {args.out / 'photos_wide_val.jpg'} and {args.out / 'photos_wide_all.jpg'}")


if __name__ == "__main__":
    main()
