"""The catalogue of colour photographs that installable packages ship (PyPI and Debian), for ``photos-wide``.

Every entry was checked by eye: photographs only, no drawings, renders, icons or monochrome pictures; one file
per scene (a wallpaper's other resolutions and a test image's re-encodings are left out). A source is one
package; its photos are files under the package's folder, so nothing here imports the package. Which photos
are in which split is decided in :mod:`vqlab.data.photos_wide`; docs/data.md lists the sources with licences.

Reserved and never listed here: OpenCV's sample images (and anything in ``cv2``/OpenCV data packages) and
the images inside the ``foolbox`` package; they are kept for independent checking.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from vqlab.images import load_image_file

__all__ = ["CATALOGUE", "SOURCES", "Photo", "Source", "package_version"]

PYTHON_PREFIX = "python:"


@dataclass(frozen=True)
class Source:
    """One package that ships photographs.

    ``root`` is an absolute folder (a Debian package's files) or ``"python:module/sub/folder"`` (a folder
    inside an installed Python package, found without importing it). ``kind`` is ``"pypi"`` or ``"debian"``.
    """

    package: str
    kind: str
    root: str
    licence: str

    def folder(self) -> Path | None:
        """The folder that holds this source's photos, or ``None`` when the package is not installed."""
        if self.root.startswith(PYTHON_PREFIX):
            module, _, sub = self.root[len(PYTHON_PREFIX) :].partition("/")
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                return None
            if spec is None or not spec.submodule_search_locations:
                return None
            folder = Path(next(iter(spec.submodule_search_locations))) / sub
        else:
            folder = Path(self.root)
        return folder if folder.is_dir() else None


@dataclass(frozen=True)
class Photo:
    """One photograph: a file of a :class:`Source`.

    ``name`` is unique and stable (it decides the split and enters the cache key). Photos of one scene (a
    stereo pair) share a ``group`` and always land in the same split. ``box`` ``(left, top, right, bottom)``
    keeps only part of the picture (to leave out printed text). ``licence`` overrides the source's when the
    package gives one per file.
    """

    name: str
    source: Source
    path: str
    group: str = ""
    box: tuple[int, int, int, int] | None = None
    licence: str = ""

    def file(self) -> Path | None:
        """The photo's file, or ``None`` when its package is not installed (or lacks the file)."""
        folder = self.source.folder()
        if folder is None:
            return None
        f = folder / self.path
        return f if f.is_file() else None

    def original_size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the picture as stored (inside ``box``), read from the file header; ``None`` if
        missing or unreadable."""
        f = self.file()
        if f is None:
            return None
        if self.box is not None:
            return self.box[2] - self.box[0], self.box[3] - self.box[1]
        try:
            with Image.open(f) as im:
                return im.size
        except (OSError, ValueError):
            return None

    def load(self, max_side: int | None = None) -> np.ndarray:
        """The photo as a uint8 RGB array ``(H, W, 3)``, shrunk (LANCZOS) so that no side exceeds ``max_side``.

        Raises :class:`FileNotFoundError` when the package is missing, :class:`~vqlab.errors.VQLabError` when
        the file can't be read.
        """
        f = self.file()
        if f is None:
            raise FileNotFoundError(f"photo {self.name!r}: {self.source.package} is not installed")
        image = load_image_file(f)
        if self.box is not None:
            image = image.crop(self.box)
        if max_side is not None and max(image.size) > max_side:
            factor = max_side / max(image.size)
            size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


@cache
def package_version(source: Source) -> str | None:
    """The installed version of the source's package (PyPI metadata or ``dpkg-query``), or ``None``."""
    if source.kind == "pypi":
        try:
            return importlib.metadata.version(source.package)
        except importlib.metadata.PackageNotFoundError:
            return None
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", source.package],
            capture_output=True, text=True, timeout=30, check=False, env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


SKIMAGE = Source("scikit-image", "pypi", "python:skimage/data", "BSD-3-Clause; photos CC0 / public domain")
SKLEARN = Source("scikit-learn", "pypi", "python:sklearn/datasets/images", "BSD-3-Clause; photos CC-BY-2.0")
MATPLOTLIB = Source(
    "matplotlib", "pypi", "python:matplotlib/mpl-data/sample_data", "Matplotlib licence; photo public domain"
)
IMGAUG = Source("imgaug", "pypi", "python:imgaug", "MIT")
MAHOTAS = Source("mahotas", "pypi", "python:mahotas/demos/data", "MIT")
MATE = Source("mate-backgrounds", "debian", "/usr/share/backgrounds/mate/nature", "GPL-2+")
PLASMA = Source(
    "plasma-workspace-wallpapers", "debian", "/usr/share/wallpapers", "GPL-2+ (Debian); LGPL-3 (wallpaper metadata)"
)
LOMIRI_16 = Source("lomiri-wallpapers-16.04", "debian", "/usr/share/backgrounds", "CC-BY-4.0 / CC-BY-SA-4.0 / CC0")
LOMIRI_20 = Source("lomiri-wallpapers-20.04", "debian", "/usr/share/backgrounds", "CC-BY-SA-3.0")
LIBJXL = Source("libjxl-testdata", "debian", "/usr/share/libjxl-testdata", "BSD-3-Clause (Google); wesaturate CC0")
TEXLIVE = Source("texlive-pictures-doc", "debian", "/usr/share/doc/texlive-doc/latex", "LPPL")
CIMG = Source("cimg-examples", "debian", "/usr/share/doc/cimg-dev/examples/img", "CeCILL")
DIGIKAM = Source("digikam-data", "debian", "/usr/share/digikam/about/images", "GPL-2+")
IMAGEMAGICK = Source(
    "imagemagick-6-doc", "debian", "/usr/share/doc/imagemagick-6-common/html/images", "ImageMagick (Apache-2.0 style)"
)
GIMP = Source("gimp-data", "debian", "/usr/share/gimp/2.0/images", "GPL-3+ and others (Debian, Files: *)")

SOURCES: tuple[Source, ...] = (
    SKIMAGE, SKLEARN, MATPLOTLIB, IMGAUG, MAHOTAS, MATE, PLASMA, LOMIRI_16, LOMIRI_20, LIBJXL, TEXLIVE, CIMG,
    DIGIKAM, IMAGEMAGICK, GIMP,
)


def _many(source: Source, prefix: str, files: Sequence[str], pattern: str = "{}") -> list[Photo]:
    """Photos ``prefix/<stem>`` for each file stem, at ``pattern.format(stem)`` under the source folder."""
    return [Photo(f"{prefix}/{stem.split('_by_')[0]}", source, pattern.format(stem)) for stem in files]


def _lomiri(stem: str, licence: str) -> Photo:
    return Photo(f"lomiri/{stem.split('_by_')[0]}", LOMIRI_16, f"{stem}.jpg", licence=licence)


CATALOGUE: tuple[Photo, ...] = (
    # scikit-image: every colour photograph in skimage/data (colour.png is a synthetic wheel; horse and logo
    # are drawings; the others are grayscale)
    Photo("astronaut", SKIMAGE, "astronaut.png"),
    Photo("chelsea", SKIMAGE, "chelsea.png"),
    Photo("coffee", SKIMAGE, "coffee.png"),
    Photo("rocket", SKIMAGE, "rocket.jpg"),
    Photo("stereo_motorcycle", SKIMAGE, "motorcycle_left.png", group="stereo_motorcycle"),
    Photo("stereo_motorcycle_right", SKIMAGE, "motorcycle_right.png", group="stereo_motorcycle"),
    Photo("immunohistochemistry", SKIMAGE, "ihc.png"),
    Photo("retina", SKIMAGE, "retina.jpg", licence="CC0"),
    Photo("hubble_deep_field", SKIMAGE, "hubble_deep_field.jpg", licence="public domain (NASA)"),
    Photo("china", SKLEARN, "china.jpg"),
    Photo("flower", SKLEARN, "flower.jpg"),
    Photo("grace_hopper", MATPLOTLIB, "grace_hopper.jpg"),
    Photo("quokka", IMGAUG, "quokka.jpg"),
    Photo("luispedro", MAHOTAS, "luispedro.jpg"),
    *_many(MATE, "mate", [
        "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
        "TwoWings", "Wood", "YellowFlower",
    ], "{}.jpg"),
    *_many(PLASMA, "plasma", [
        "BytheWater", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Kite", "OneStandsOut", "Path",
        "summer_1am",
    ], "{}/contents/images/2560x1600.jpg"),
    _lomiri("aitzgorri_by_Aitzol_Berasategi", "CC-BY-4.0"),
    _lomiri("Bridge_by_Sander_Klootwijk", "CC-BY-SA-4.0"),
    _lomiri("Dragonfly_by_Bolly", "CC-BY-SA-4.0"),
    _lomiri("free_by_Peter_Nerlich", "CC-BY-SA-4.0"),
    _lomiri("friends_by_Aitzol_Berasategi", "CC-BY-4.0"),
    _lomiri("greentock_by_Peter_Nerlich", "CC-BY-SA-4.0"),
    _lomiri("life_by_Aitzol_Berasategi", "CC-BY-4.0"),
    _lomiri("picosdeeuropa_by_Aitzol_Berasategi", "CC-BY-4.0"),
    _lomiri("Picture_0B_by_freespace", "CC-BY-4.0"),
    _lomiri("Picture_1A_by_freespace", "CC-BY-4.0"),
    _lomiri("seeding_by_Clements_Engelhardt", "CC0-1.0"),
    _lomiri("sunset_by_Aitzol_Berasategi", "CC-BY-4.0"),
    _lomiri("Wine_by_Jakkub_Mede", "CC-BY-4.0"),
    Photo("lomiri/Kleiber", LOMIRI_20, "Kleiber_by_Lukas_Baubkus.jpg"),
    Photo("jxl/flower", LIBJXL, "jxl/flower/flower.png", licence="BSD-3-Clause (Google)"),
    Photo("jxl/hdr_room", LIBJXL, "jxl/hdr_room.png", licence="BSD-3-Clause (Google)"),
    *[
        Photo(f"wesaturate/{stem.split('_', 1)[1]}", LIBJXL, f"external/wesaturate/500px/{stem}_srgb8.png",
              licence="CC0")
        for stem in ("cvo9xd_keong_macan", "tmshre_riaphotographs", "u76c0g_bliznaca")
    ],
    Photo("texlive/sonne-meer", TEXLIVE, "hvfloat/sonne-meer.jpg", licence="LPPL"),
    Photo("texlive/pleiades", TEXLIVE, "tikz-imagelabels/pleiades.jpg", licence="LPPL-1.3"),
    Photo("texlive/koepi", TEXLIVE, "xput/koepi.jpg", licence="LPPL-1.3c"),
    Photo("cimg/parrot", CIMG, "parrot.ppm"),
    Photo("cimg/milla", CIMG, "milla.bmp"),
    Photo("digikam/lake", DIGIKAM, "body-background.jpg"),
    Photo("imagemagick/bluebells", IMAGEMAGICK, "bluebells_lin.jpg"),
    # the splash screen's photograph, left of the printed "GIMP 2.10" title
    Photo("gimp/mushrooms", GIMP, "gimp-splash.png", box=(0, 0, 1040, 1080)),
)
