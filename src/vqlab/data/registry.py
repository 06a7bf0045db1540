"""The dataset registry: CLI name -> loader, and :func:`load_dataset` for names and ``folder:PATH`` specs."""

from __future__ import annotations

import os
from collections.abc import Callable

from vqlab.data.base import ImageDataset
from vqlab.data.cifar10 import load_cifar10
from vqlab.data.folder import load_folder
from vqlab.data.mnist import load_fashion_mnist, load_mnist
from vqlab.data.photos import load_photos
from vqlab.data.photos_wide import load_photos_wide
from vqlab.errors import VQLabError

__all__ = ["DATASETS", "FOLDER_PREFIX", "load_dataset"]

FOLDER_PREFIX = "folder:"

#: Loaders keyed by CLI name; each is called as ``loader(root=..., image_size=..., download=..., cache_dir=...)``.
DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "photos": load_photos,
    "photos-wide": load_photos_wide,
    "cifar10": load_cifar10,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}


def load_dataset(
    spec: str,
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """Load a dataset by registry name (``photos``, ``photos-wide``, ``cifar10``, ``mnist``, ``fashion-mnist``) or
    ``folder:PATH``.

    Returns uint8 train ``(N, C, S, S)`` and test ``(M, C, S, S)`` tensors, and for ``photos-wide`` also a
    validation split ``val`` (``None`` elsewhere). ``image_size=None`` keeps each source's native size (photos,
    photos-wide and folder 32, cifar10 32, mnist/fashion-mnist 28). ``root`` is the data folder for
    cifar10/mnist/fashion-mnist (ignored by photos; ``folder:`` carries its own path).
    ``download`` only applies to cifar10. ``cache_dir`` overrides the user cache folder.
    Unknown names raise :class:`VQLabError` listing the valid ones.
    """
    if spec.startswith(FOLDER_PREFIX):
        path = spec[len(FOLDER_PREFIX) :]
        if not path:
            raise VQLabError("dataset 'folder:' needs a path, e.g. folder:./my_images")
        return load_folder(path, image_size=image_size)
    loader = DATASETS.get(spec)
    if loader is None:
        valid = ", ".join([*DATASETS, f"{FOLDER_PREFIX}PATH"])
        raise VQLabError(f"unknown dataset {spec!r}; valid: {valid}")
    return loader(root=root, image_size=image_size, download=download, cache_dir=cache_dir)
