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
import io
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from vqlab.data.rcc import read_index, read_member
from vqlab.errors import VQLabError
from vqlab.images import load_image_file, to_rgb

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
    package gives one per file. ``member`` names the picture inside ``path`` when ``path`` is a Qt resource
    container (``.rcc``, how GCompris ships its pictures; :mod:`vqlab.data.rcc`).
    """

    name: str
    source: Source
    path: str
    group: str = ""
    box: tuple[int, int, int, int] | None = None
    licence: str = ""
    member: str = ""

    def file(self) -> Path | None:
        """The photo's file (its container, for a ``member``), or ``None`` when its package is not installed
        (or lacks the file or the member)."""
        folder = self.source.folder()
        if folder is None:
            return None
        f = folder / self.path
        if not f.is_file():
            return None
        return f if not self.member or self.member in read_index(f) else None

    def stored_size(self) -> int:
        """Bytes of the picture as stored (the member's, inside a container); 0 when it is missing."""
        f = self.file()
        if f is None:
            return 0
        return read_index(f)[self.member].length if self.member else f.stat().st_size

    def _image(self, f: Path) -> Image.Image:
        if not self.member:
            return load_image_file(f)
        where = f"{f}:{self.member}"
        try:
            with Image.open(io.BytesIO(read_member(f, self.member))) as im:
                im.load()
                return to_rgb(ImageOps.exif_transpose(im))
        except VQLabError:
            raise
        except Exception as exc:  # noqa: BLE001 (PIL raises many kinds)
            raise VQLabError(f"cannot read image {where}: {exc.__class__.__name__}: {exc}") from None

    def original_size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the picture as stored (inside ``box``), read from the file header; ``None`` if
        missing or unreadable."""
        f = self.file()
        if f is None:
            return None
        if self.box is not None:
            return self.box[2] - self.box[0], self.box[3] - self.box[1]
        try:
            with Image.open(io.BytesIO(read_member(f, self.member)) if self.member else f) as im:
                return im.size
        except (OSError, ValueError, VQLabError):
            return None

    def load(self, max_side: int | None = None) -> np.ndarray:
        """The photo as a uint8 RGB array ``(H, W, 3)``, shrunk (LANCZOS) so that no side exceeds ``max_side``.

        Raises :class:`FileNotFoundError` when the package is missing, :class:`~vqlab.errors.VQLabError` when
        the file can't be read.
        """
        f = self.file()
        if f is None:
            raise FileNotFoundError(f"photo {self.name!r}: {self.source.package} is not installed")
        image = self._image(f)
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
GCOMPRIS = Source("gcompris-qt-data", "debian", "/usr/share/gcompris-qt/rcc", "GPL-3+ (Debian, Files: *)")
# the categorization pictures are Wikimedia Commons photographs with a licence each (Debian copyright file)
GCOMPRIS_PER_FILE = ("per file (Debian copyright): public domain, CC0-1.0, CC-BY 1.0-2.0, CC-BY-SA 2.0-4.0, "
                     "GPL-2+ or GFDL-1.2+")

SOURCES: tuple[Source, ...] = (
    SKIMAGE, SKLEARN, MATPLOTLIB, IMGAUG, MAHOTAS, MATE, PLASMA, LOMIRI_16, LOMIRI_20, LIBJXL, TEXLIVE, CIMG,
    DIGIKAM, IMAGEMAGICK, GIMP, GCOMPRIS,
)


def _many(source: Source, prefix: str, files: Sequence[str], pattern: str = "{}") -> list[Photo]:
    """Photos ``prefix/<stem>`` for each file stem, at ``pattern.format(stem)`` under the source folder."""
    return [Photo(f"{prefix}/{stem.split('_by_')[0]}", source, pattern.format(stem)) for stem in files]


def _lomiri(stem: str, licence: str) -> Photo:
    return Photo(f"lomiri/{stem.split('_by_')[0]}", LOMIRI_16, f"{stem}.jpg", licence=licence)


def _gcompris(prefix: str, activity: str, folder: str, stems: Sequence[str], licence: str = "") -> list[Photo]:
    """Photos ``gcompris/PREFIX/<stem>``: ``<stem>.webp`` under ``folder`` of the activity's resource container."""
    return [
        Photo(f"gcompris/{prefix}/{s.rsplit('/', 1)[-1]}", GCOMPRIS, f"{activity}.rcc",
              member=f"/gcompris/src/activities/{activity}/{folder}/{s}.webp", licence=licence)
        for s in stems
    ]


# GCompris (gcompris-qt-data): the photographs of its activities, inside Qt resource containers. Left out: the
# drawings (lang, details, paintings, babyshapes, ...), castleClinton (black and white), the fish drawings by
# Duane Raver (fish2, fish5, fish23, fish24), the categorization monuments (the explore_monuments scenes again)
# and the toy blocks (alphabets, numbers).
GCOMPRIS_ERASE: tuple[str, ...] = (
    "alpaca", "bee", "butterfly", "calf", "camels", "caterpillar", "chamaeleon", "cheetah", "crab",
    "dolphin", "flying_fox", "gibbon", "giraffe", "goat", "gorilla", "gosling", "heron", "horse",
    "kingfisher", "kitten", "long_nosed_monkey", "macaque", "meerkats", "northern_harrier", "nubian_ibex",
    "penguin", "pika", "red_panda", "rhinoceros", "spoonbills", "squirrel", "swans", "toucan",
)
GCOMPRIS_MONUMENTS: tuple[str, ...] = (
    "egypt/bentPyramid", "egypt/greatPyramidOfGiza", "egypt/meidumPyramid", "egypt/redPyramid",
    "france/arlesAmphitheater", "france/chateaudeChambord", "france/chateaudeChenonceau",
    "france/citedeCarcassonne", "france/eiffelTower", "france/montStMichel", "france/palaisdesPapes",
    "france/pontduGard", "france/reimsCathedral", "france/rocamadour", "germany/aulaPalatina",
    "germany/berlinCathedral", "germany/brandenburgGate", "germany/neuschwansteinCastle",
    "germany/schwerinPalace", "germany/trierImperialBaths", "germany/wormsCathedral", "india/ajantaCave",
    "india/charminar", "india/gatewayofIndia", "india/goldenTemple", "india/greatStupa", "india/hawaMahal",
    "india/konarkSunTemple", "india/mysorePalace", "india/qutubMinar", "india/rangGhar",
    "india/victoriaMemorial", "usa/cabrillo", "usa/canyondeChelly", "usa/castillodeSanMarcos",
    "usa/fortSumter", "usa/georgeWashingtonBirthplace", "usa/lincolnMemorial", "usa/mountRushmore",
    "usa/navajo", "usa/statueofLiberty", "wonders/chichenItza", "wonders/christTheRedeemer",
    "wonders/colosseum", "wonders/greatWallofChina", "wonders/machuPicchu", "wonders/petra",
    "wonders/tajMahal",
)
GCOMPRIS_WORLD_ANIMALS: tuple[str, ...] = (
    "bison", "chameleon", "crocodile", "dragon", "giraffe", "hedgehog", "jaguar", "kangaroo", "koala",
    "lemur", "moose", "narwhal", "panda", "polar_bear", "scarlet_macaw",
)
GCOMPRIS_FARM_ANIMALS: tuple[str, ...] = (
    "cat", "chicken", "cow", "dog", "duck", "horse", "owl", "pig", "sheep",
)
GCOMPRIS_MUSIC: tuple[str, ...] = (
    "africa", "america", "australia", "ireland", "italy", "japan", "mexico", "middleeast", "orchestra",
)
GCOMPRIS_CATEGORIZATION: tuple[str, ...] = (
    "fishes/fish1", "fishes/fish10", "fishes/fish11", "fishes/fish12", "fishes/fish13", "fishes/fish14",
    "fishes/fish15", "fishes/fish16", "fishes/fish17", "fishes/fish18", "fishes/fish19", "fishes/fish20",
    "fishes/fish21", "fishes/fish22", "fishes/fish25", "fishes/fish26", "fishes/fish27", "fishes/fish28",
    "fishes/fish3", "fishes/fish4", "fishes/fish6", "fishes/fish7", "fishes/fish8", "fishes/fish9",
    "others/baseball", "others/blackslate", "others/bucket", "others/buffetset", "others/bulb",
    "others/chair", "others/cup", "others/erasers", "others/igloo", "others/knife", "others/pan",
    "others/pencil", "others/pillow", "others/plate", "others/spoons", "others/volleyball",
    "others/weighingMachine", "renewable/dam1", "renewable/dam2", "renewable/dam3", "renewable/dam4",
    "renewable/dam5", "renewable/geothermal", "renewable/solar1", "renewable/solar2", "renewable/solar3",
    "renewable/solar4", "renewable/solar5", "renewable/solar6", "renewable/solar7", "renewable/solar8",
    "renewable/windmill", "renewable/windmill1", "renewable/windmill11", "renewable/windmill12",
    "renewable/windmill13", "renewable/windmill14", "renewable/windmill15", "renewable/windmill2",
    "renewable/windmill3", "renewable/windmill4", "renewable/windmill5", "renewable/windmill6",
    "renewable/windmill7", "renewable/windmill8", "renewable/windmill9", "tools/cuttingTool",
    "tools/hammer1", "tools/hammer2", "tools/hammer3", "tools/hammer4", "tools/hammer5", "tools/hammer6",
    "tools/hammer7", "tools/hammer8", "tools/hammer9", "tools/measuringTape1", "tools/measuringTape2",
    "tools/measuringTape3", "tools/measuringTape4", "tools/measuringTape5", "tools/measuringTape6",
    "tools/multimeter1", "tools/multimeter2", "tools/multimeter3", "tools/nailCutter", "tools/plier1",
    "tools/plier2", "tools/plier3", "tools/plier4", "tools/scissors1", "tools/scissors2",
    "tools/scissors3", "tools/scissors4", "tools/screwDriver", "tools/screwDriver1", "tools/screwDriver2",
    "tools/screwDriver3", "tools/sickle", "tools/sideCutter1", "tools/spray", "tools/tweezer",
    "tools/tweezer1", "tools/wrench", "tools/wrench1",
)

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
    *_gcompris("erase", "erase", "resource", GCOMPRIS_ERASE),
    *_gcompris("monuments", "explore_monuments", "resource", GCOMPRIS_MONUMENTS),
    *_gcompris("animals", "explore_world_animals", "resource/animals", GCOMPRIS_WORLD_ANIMALS),
    *_gcompris("farm", "explore_farm_animals", "resource/animals", GCOMPRIS_FARM_ANIMALS, "GPL-3"),
    *_gcompris("music", "explore_world_music", "resource/music", GCOMPRIS_MUSIC),
    *_gcompris("categorization", "categorization", "resource/images", GCOMPRIS_CATEGORIZATION, GCOMPRIS_PER_FILE),
)
