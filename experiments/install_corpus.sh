#!/usr/bin/env bash
# Install the packages whose photographs make the `photos-wide` corpus (see docs/data.md).
#
#   bash experiments/install_corpus.sh              # Debian packages (apt-get, as root or via sudo) + PyPI ones
#   PYTHON=.venv/bin/python bash experiments/install_corpus.sh   # the Python environment that runs vqlab
#   SKIP_APT=1 bash experiments/install_corpus.sh   # only the PyPI packages
#
# Everything is optional: `photos-wide` skips what is missing (with a warning) and records which photos it
# used in its cache metadata. The project's tests and CI never need this script. Download sizes (Debian 12):
# texlive-pictures-doc ~233 MB (3 photos; pulls texlive-base), plasma-workspace-wallpapers ~94 MB,
# mate-backgrounds ~47 MB, libjxl-testdata ~56 MB, lomiri-wallpapers-16.04 ~16 MB, -20.04 ~11 MB,
# gimp-data ~14 MB, digikam-data ~11 MB (pulls opencv-data: detector cascades, no images), imagemagick-6-doc
# ~8 MB, cimg-examples ~2 MB, gcompris-qt-data ~44 MB (223 photos inside Qt resource files); the package
# survey's sources (143 photos, ~0.68 GB together): stellarium-data ~246 MB (20 panorama tiles),
# tuxpaint-data ~8 MB but it depends on tuxpaint-stamps-default ~161 MB, kphotoalbum ~12 MB but it pulls
# ~137 MB of KDE, Qt WebEngine and VLC libraries (~0.5 GB on disk) for 20 photos, gimp-help-en ~50 MB,
# lxqt-themes ~27 MB, kalzium-data ~24 MB, qtdeclarative5-examples ~5 MB and qtmultimedia5-examples ~1 MB
# (plus Qt libraries), palapeli-data ~2 MB. Drop any of them from the list to save its download. The PyPI
# packages are installed with --no-deps: only their data files are read (imgaug's dependencies include
# OpenCV, whose sample images are reserved and must stay out of the corpus).
set -euo pipefail

DEBIAN_PACKAGES=(
    mate-backgrounds
    plasma-workspace-wallpapers
    lomiri-wallpapers-16.04
    lomiri-wallpapers-20.04
    libjxl-testdata
    texlive-pictures-doc
    cimg-examples
    digikam-data
    imagemagick-6-doc
    gimp-data
    gcompris-qt-data
    kphotoalbum
    lxqt-themes
    palapeli-data
    tuxpaint-data
    gimp-help-en
    kalzium-data
    qtdeclarative5-examples
    qtmultimedia5-examples
    stellarium-data
)
PYPI_PACKAGES=(imgaug==0.4.0 mahotas==1.4.19)
PYTHON="${PYTHON:-python3}"

if [ "${SKIP_APT:-0}" != 1 ]; then
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        SUDO=(sudo)
    fi
    "${SUDO[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${DEBIAN_PACKAGES[@]}"
fi

"$PYTHON" -m pip install -q --no-deps "${PYPI_PACKAGES[@]}"
echo "photos-wide sources installed; the next \`vqlab train --data photos-wide\` rebuilds its cache with them."
