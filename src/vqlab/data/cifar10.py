"""``cifar10``: the standard ``cifar-10-batches-py`` folder, read without trusting its pickles.

Each batch file is a pickle of a dict with ``b"data"`` (``(10000, 3072)`` uint8: the R, then G, then B plane of
a 32x32 image, row-major) and ``b"labels"``. ``data_batch_1`` .. ``data_batch_5`` are train, ``test_batch`` is
test. Pickles can run code, so they are read with :class:`RestrictedUnpickler`, which only lets numpy rebuild
arrays. ``download=True`` fetches the official archive, checks its MD5 and extracts it safely and atomically.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from vqlab.data.base import ImageDataset, cache_root, check_image_size, resize_images
from vqlab.errors import VQLabError

__all__ = [
    "ARCHIVE_MD5",
    "BATCH_DIR",
    "TEST_BATCHES",
    "TRAIN_BATCHES",
    "URL",
    "RestrictedUnpickler",
    "download_cifar10",
    "load_batch",
    "load_cifar10",
    "resolve_root",
    "safe_unpickle",
]

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES: tuple[str, ...] = ("test_batch",)
NATIVE_SIZE = 32


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` limited to what Python 3 writes for ``bytes`` in protocol 2: ``(str, "latin1")``."""
    if not isinstance(text, str) or encoding.replace("-", "").replace("_", "").lower() != "latin1":
        raise VQLabError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", "strict")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR pickle may name: numpy's array and dtype reconstruction.

    Plus a latin-1-only ``_codecs.encode``, which Python 3 uses for ``bytes`` under pickle protocol 2.
    """
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for module in ("numpy.core", "numpy._core"):
        allowed[(f"{module}.multiarray", "_reconstruct")] = multiarray._reconstruct
        # Arrays pickled with protocol 5 (Python 3's default) are rebuilt by numeric._frombuffer.
        if hasattr(numeric, "_frombuffer"):
            allowed[(f"{module}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that can rebuild numpy arrays and plain containers and nothing else.

    Any other global (``os.system``, ``builtins.eval``, ...) raises :class:`VQLabError` before it is looked up.
    """

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise VQLabError(f"refusing to load {module}.{name} from a CIFAR pickle") from None


def safe_unpickle(f: BinaryIO, name: str) -> Any:
    """Unpickle one object from ``f`` with :class:`RestrictedUnpickler` (``encoding="bytes"``).

    Any failure (truncated or corrupt data, a forbidden global) raises :class:`VQLabError` naming ``name``.
    """
    try:
        return RestrictedUnpickler(f, encoding="bytes").load()
    except VQLabError as exc:
        raise VQLabError(f"{name}: {exc}") from None
    # Unpickling malformed data can raise almost any exception type.
    except Exception as exc:  # noqa: BLE001
        raise VQLabError(f"corrupt CIFAR batch {name}: {exc.__class__.__name__}: {exc}") from None


def _batch_images(obj: Any, name: str) -> np.ndarray:
    """The ``(N, 3, 32, 32)`` uint8 images of an unpickled batch dict."""
    if not isinstance(obj, dict):
        raise VQLabError(f"corrupt CIFAR batch {name}: expected a dict, got {type(obj).__name__}")
    data = obj.get(b"data", obj.get("data"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise VQLabError(f"corrupt CIFAR batch {name}: 'data' must be a uint8 (N, 3072) array, got {desc}")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32))


def load_batch(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one CIFAR-10 batch file as uint8 images ``(N, 3, 32, 32)``; VQLabError if missing or corrupt."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            obj = safe_unpickle(f, str(p))
    except OSError as exc:
        raise VQLabError(f"cannot read CIFAR batch {p}: {exc.strerror or exc}") from None
    return _batch_images(obj, str(p))


def resolve_root(root: str | os.PathLike[str] | None, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The ``cifar-10-batches-py`` folder meant by ``root`` (that folder itself or its parent).

    ``root=None`` means ``<cache>/cifar10``. The folder returned need not exist.
    """
    base = Path(root).expanduser() if root is not None else cache_root(cache_dir) / "cifar10"
    if base.name == BATCH_DIR or (base / TRAIN_BATCHES[0]).is_file():
        return base
    return base / BATCH_DIR


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract ``tar`` into ``dest`` refusing absolute paths, ``..``, links and device files."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    # Python without extraction filters (3.10 before 3.10.12): check the members by hand.
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"unsafe archive member {member.name!r}")
    tar.extractall(dest)


def _verify_and_extract(archive_path: str | os.PathLike[str], md5: str, dest: str | os.PathLike[str]) -> Path:
    """Check ``archive_path``'s MD5, then extract its ``cifar-10-batches-py`` folder into ``dest``, atomically.

    The archive is unpacked into a temporary folder inside ``dest`` and the batch folder is moved into place
    with one rename. Returns ``dest/cifar-10-batches-py``. MD5 mismatch, a corrupt or unsafe archive, or an
    archive without that folder raise :class:`VQLabError`.
    """
    archive, dest = Path(archive_path), Path(dest)
    actual = _md5(archive)
    if actual != md5:
        raise VQLabError(f"MD5 mismatch for {archive}: expected {md5}, got {actual}; the download is corrupt")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".cifar10-extract-", dir=dest))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                _safe_extract(tar, tmp)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise VQLabError(f"cannot extract {archive}: {exc}") from None
        extracted = tmp / BATCH_DIR
        if not extracted.is_dir():
            raise VQLabError(f"archive {archive} has no {BATCH_DIR} folder")
        final = dest / BATCH_DIR
        if final.exists():
            shutil.rmtree(final)
        os.replace(extracted, final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download_cifar10(dest: str | os.PathLike[str], url: str | None = None, md5: str | None = None) -> Path:
    """Download the CIFAR-10 archive (default :data:`URL`, checked against :data:`ARCHIVE_MD5`) into ``dest``.

    Extracts it there and returns ``dest/cifar-10-batches-py``. A network failure raises :class:`VQLabError`
    that says how to install the files by hand.
    """
    import urllib.request

    url, md5, dest = url or URL, md5 or ARCHIVE_MD5, Path(dest)
    manual = f"download {url} by hand and extract it so that {dest / BATCH_DIR} holds the batch files"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cifar-10-python.", suffix=".tar.gz.part", dir=dest)
    except OSError as exc:
        raise VQLabError(f"cannot write to {dest}: {exc.strerror or exc}") from None
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out, 1 << 20)
        # URLError, HTTPError and timeouts are OSErrors; a malformed URL is a ValueError.
        except (OSError, ValueError) as exc:
            raise VQLabError(f"cannot download CIFAR-10 ({exc}); {manual}") from None
        return _verify_and_extract(tmp, md5, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_cifar10(
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """CIFAR-10 as uint8 tensors: train ``(50000, 3, S, S)``, test ``(10000, 3, S, S)``.

    ``root`` is the ``cifar-10-batches-py`` folder or its parent (default ``<cache>/cifar10``).
    ``image_size=None`` keeps 32; any other size resizes each image with LANCZOS at load time.
    ``download=True`` fetches the archive when the folder is missing.
    """
    size = check_image_size(image_size)
    folder = resolve_root(root, cache_dir)
    if not folder.is_dir():
        if not download:
            raise VQLabError(
                f"CIFAR-10 not found at {folder}; pass --download to fetch it, "
                f"or extract {URL} so that this folder holds the batch files"
            )
        folder = download_cifar10(folder.parent)
    splits = []
    for names in (TRAIN_BATCHES, TEST_BATCHES):
        images = np.concatenate([load_batch(folder / n) for n in names])
        if size is not None and size != NATIVE_SIZE:
            images = resize_images(images, size)
        splits.append(torch.from_numpy(images))
    return ImageDataset("cifar10", splits[0], splits[1])
