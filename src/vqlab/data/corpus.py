"""The catalogue of colour photographs that installable packages ship (PyPI and Debian), for ``photos-wide``.

Every entry was checked by eye: photographs only, no drawings, renders, icons, cut-outs or monochrome pictures;
one file per picture (a wallpaper's other resolutions and a test image's re-encodings are left out), and the
pictures of one scene (a stereo pair, two shots, the tiles of a panorama) share a ``group``. A source is one
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
import re
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

__all__ = ["CATALOGUE", "SOURCES", "SURVEY_SOURCES", "Photo", "Source", "package_version"]

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

# found by the package survey of 2026-12-01 (docs/data.md); their validation photos are chosen by rule
KPHOTOALBUM = Source("kphotoalbum", "debian", "/usr/share/kphotoalbum/demo", "GPL-2+ (Debian; package-wide)")
LXQT = Source(
    "lxqt-themes", "debian", "/usr/share/lxqt/wallpapers", "CC-BY-SA-3.0 (wallpapers/License); Debian Files: * LGPL-2.1+"
)
PALAPELI = Source("palapeli-data", "debian", "/usr/share/palapeli/collection", "GPL-2+ (Debian, Files: *)")
TUXPAINT = Source("tuxpaint-data", "debian", "/usr/share/tuxpaint", "GPL-2+ (Debian, Files: *)")
GIMP_HELP = Source("gimp-help-en", "debian", "/usr/share/gimp/2.0/help/en/images", "GFDL-NIV-1.2+ (Debian, Files: *)")
KALZIUM = Source("kalzium-data", "debian", "/usr/share/kalzium/data/toolpics", "GPL-2.0-or-later (Debian, Files: *)")
# the Debian multiarch path of amd64; on other architectures these two are skipped as not installed
QT_QUICK = Source("qtdeclarative5-examples", "debian", "/usr/lib/x86_64-linux-gnu/qt5/examples/quick",
                  "BSD-3-clause (Debian, Files: examples/*)")
QT_MULTIMEDIA = Source("qtmultimedia5-examples", "debian", "/usr/lib/x86_64-linux-gnu/qt5/examples/multimedia",
                       "BSD-3-clause (Debian, Files: examples/*)")
STELLARIUM = Source("stellarium-data", "debian", "/usr/share/stellarium/landscapes", "GPL-2+ (Debian, Files: *)")
SURVEY_SOURCES: tuple[Source, ...] = (
    KPHOTOALBUM, LXQT, PALAPELI, TUXPAINT, GIMP_HELP, KALZIUM, QT_QUICK, QT_MULTIMEDIA, STELLARIUM,
)

SOURCES: tuple[Source, ...] = (
    SKIMAGE, SKLEARN, MATPLOTLIB, IMGAUG, MAHOTAS, MATE, PLASMA, LOMIRI_16, LOMIRI_20, LIBJXL, TEXLIVE, CIMG,
    DIGIKAM, IMAGEMAGICK, GIMP, GCOMPRIS, *SURVEY_SOURCES,
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

# kphotoalbum: the demo photographs (800 px). Left out: new_wave_1, grand_canyon_1, wayne and pool_2, which are
# stored rotated (by 90, 180, 90 and 270 degrees; the turn is only in the demo's index.xml, not in EXIF), and
# CategoryImages/* (crops of the same photos). Shots of one scene share a group (bar55 and bar55_2, ...), also
# where the other shot is left out. Boxes cut off a white frame (spiff_2) and a black line (jesper).
KPHOTOALBUM_DEMO: tuple[str, ...] = (
    "anne_helene", "bar55", "bar55_2", "blackie", "cold_water", "donna", "donna_2", "grand_canyon_2",
    "grand_canyon_3", "jesper", "jesper_2", "new_wave_2", "pool", "qt-logo", "skagen", "skagen_2", "snow",
    "spiff", "spiff_2", "sunset",
)
KPHOTOALBUM_SCENES = ("bar55", "donna", "grand_canyon", "jesper", "new_wave", "pool", "skagen", "spiff")
KPHOTOALBUM_BOXES = {"jesper": (0, 0, 800, 532), "spiff_2": (0, 0, 793, 546)}
# lxqt-themes: the photographs among the wallpapers (the others are renders and logos); after-the-rain has a
# black line at the top
LXQT_WALLPAPERS: tuple[str, ...] = (
    "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png", "beam.png",
    "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg", "this-is-not-windows.jpg",
)
LXQT_BOXES = {"after-the-rain": (0, 2, 3000, 1993)}
PALAPELI_PUZZLES: tuple[str, ...] = (
    "castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee", "panther-chameleon-female",
)
# tuxpaint-data: the colouring-in templates (photographs by Bill Kendrick); mossy_bark has black bands at the top
# and the bottom
TUXPAINT_TEMPLATES: tuple[str, ...] = (
    "burnt_bark", "cliff", "corn_maze", "jellyfish", "lighthouse", "mossy_bark", "mossy_log", "mudstone",
    "ocean_splash", "ocean_waves", "redwoods_above", "rocks", "sheep", "spiders_web", "sun_behind_clouds",
    "sun_behind_leaves", "trees_above", "trees_at_dusk", "wool_mill_machine",
)
TUXPAINT_BOXES = {"mossy_bark": (0, 28, 640, 452)}
# gimp-help-en: the original photographs of the manual's examples, one file per photograph (the ~1,500 other
# images are screenshots and filtered copies of these). levels-ex2a is the floppy-disk photo after the manual's
# white-point step (no unadjusted copy is shipped); the stained-glass window is the upright copy (its "source"
# is stored turned by 90 degrees).
GIMP_HELP_PHOTOS: tuple[tuple[str, str], ...] = (
    ("daisies", "filters/examples/distort/spherize-ex-orig.jpg"),
    ("red-eye", "filters/examples/enhance-red-eye-before.jpg"),
    ("chimpanzee", "filters/examples/enhance/high-pass-origin.png"),
    ("kvitveis", "filters/examples/kvitveis-orig.png"),
    ("squirrel", "filters/examples/light-and-shadow/vignette-ex-orig.jpg"),
    ("little-planet", "filters/examples/map/little_planet-origin.jpg"),
    ("panorama", "filters/examples/map/pan-project-origin.jpg"),
    ("taj", "filters/examples/taj_orig.png"),
    ("zinnias", "filters/examples/2zinnias.png"),
    ("sunflower", "tool-options/lockbrush-orig.png"),
    ("floppies", "toolbox/levels-ex2a.png"),
    ("orchard-truck", "tutorials/tone-mapping/apple-orchard-truck-from-camera.jpg"),
    ("power-lines", "tutorials/tone-mapping/power-lines.jpg"),
    ("yellow-flower", "tutorials/quickie-remove-background-source.jpg"),
    ("mallard", "tutorials/quickie-crop-example-source.jpg"),
    ("soldiers", "tutorials/quickie-flip-example-source.jpg"),
    ("red-car", "tutorials/quickie-jpeg-example.jpg"),
    ("stained-glass", "tutorials/quickie-rotate-example-90-CCW.jpg"),
    ("castle", "tutorials/quickie-scale-example.jpg"),
    ("ducklings", "using/duck_orig.png"),
    ("fog-tree", "using/fog-tree-example.png"),
    ("keyfob", "using/keyfob_orig.png"),
)
# kalzium-data: the lab-equipment photographs (all at least 200 px on the longer side); kolbenprober.png is a
# cut-out on a transparent background and left out
KALZIUM_TOOLS: tuple[str, ...] = (
    "abzug", "becherglas", "brechungsmesser", "brenner", "destillierbruecke", "dsc", "erlenmeyerkolben",
    "exikator", "halter", "heizplatte", "hplc", "korkring", "messzylinder", "moerser", "phpapier", "pileusball",
    "pipette", "rg-halter", "rg-staender", "rg", "rotationsverdampfer", "rueckflusskuehler", "ruehrfisch",
    "rundkolben", "scheidetrichter", "schutzbrille", "spatel", "spritzflasche", "thermometer", "thermometer2",
    "tonschale", "trichter", "trockenrohr", "tropftrichter", "uhrglas", "verteiler", "vollpipette", "waage",
    "wasserstrahlpumpe",
)
# stellarium-data: the tiles of three photographic landscape panoramas. Their sky is cut out (transparent), so
# each tile keeps only its largest fully opaque rectangle (the ground and what stands on it); all tiles of a
# panorama share a group. Left out: the ground textures (projected), "trees" (a fisheye disc with its sky cut
# out) and the rendered landscapes.
STELLARIUM_TILES: tuple[tuple[str, str, tuple[int, int, int, int]], ...] = (
    ("garching", "garching-gl1", (0, 57, 1024, 512)),
    ("garching", "garching-gl2", (0, 57, 1024, 512)),
    ("garching", "garching-gl3", (0, 55, 1024, 512)),
    ("garching", "garching-gl4", (0, 57, 1024, 512)),
    ("guereins", "guereins1", (0, 110, 256, 256)),
    ("guereins", "guereins2", (0, 111, 256, 256)),
    ("guereins", "guereins3", (0, 111, 256, 256)),
    ("guereins", "guereins4", (0, 111, 256, 256)),
    ("guereins", "guereins5", (0, 111, 256, 256)),
    ("guereins", "guereins6", (0, 111, 256, 256)),
    ("guereins", "guereins7", (0, 94, 240, 256)),
    ("guereins", "guereins8", (0, 84, 256, 256)),
    ("hurricane", "hurricane1", (1, 259, 512, 511)),
    ("hurricane", "hurricane2", (55, 281, 512, 511)),
    ("hurricane", "hurricane3", (0, 362, 512, 511)),
    ("hurricane", "hurricane4", (0, 310, 512, 511)),
    ("hurricane", "hurricane5", (0, 329, 512, 511)),
    ("hurricane", "hurricane6", (0, 324, 512, 465)),
    ("hurricane", "hurricane7", (0, 350, 512, 511)),
    ("hurricane", "hurricane8", (28, 328, 511, 507)),
)


def _kphotoalbum(stem: str) -> Photo:
    scene = re.sub(r"_\d+$", "", stem)
    group = f"kphotoalbum/{scene}" if scene in KPHOTOALBUM_SCENES else ""
    return Photo(f"kphotoalbum/{stem}", KPHOTOALBUM, f"{stem}.jpg", group=group, box=KPHOTOALBUM_BOXES.get(stem))


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
    *[_kphotoalbum(stem) for stem in KPHOTOALBUM_DEMO],
    *[Photo(f"lxqt/{stem}", LXQT, f, box=LXQT_BOXES.get(stem)) for f in LXQT_WALLPAPERS for stem in [f.rsplit(".", 1)[0]]],
    *_many(PALAPELI, "palapeli", PALAPELI_PUZZLES, "{}.jpg"),
    *[Photo(f"tuxpaint/{s}", TUXPAINT, f"templates/{s}.jpg", box=TUXPAINT_BOXES.get(s)) for s in TUXPAINT_TEMPLATES],
    # the two starters' backgrounds: whole photographs (the foreground overlays are cut-outs of them)
    Photo("tuxpaint/reef", TUXPAINT, "starters/reef-back.png", licence="public domain (NOAA)"),
    Photo("tuxpaint/skyline-sf-dusk", TUXPAINT, "starters/skyline-sf-dusk-back.jpeg", licence="public domain (NOAA)"),
    *[Photo(f"gimp-help/{name}", GIMP_HELP, path) for name, path in GIMP_HELP_PHOTOS],
    *_many(KALZIUM, "kalzium", KALZIUM_TOOLS, "{}.jpg"),
    Photo("qt/niagara_falls", QT_QUICK, "customitems/scrollbar/pics/niagara_falls.jpg"),
    Photo("qt/backgroundLeaves", QT_QUICK, "particles/images/backgroundLeaves.jpg"),
    Photo("qt/fruit-salad", QT_QUICK, "views/listview/content/pics/fruit-salad.jpg"),
    Photo("qt/hamburger", QT_QUICK, "views/listview/content/pics/hamburger.jpg"),
    Photo("qt/leaves", QT_MULTIMEDIA, "video/qmlvideo/images/leaves.jpg"),
    *[
        Photo(f"stellarium/{tile}", STELLARIUM, f"{pano}/{tile}.png", group=f"stellarium/{pano}", box=box)
        for pano, tile, box in STELLARIUM_TILES
    ],
)
