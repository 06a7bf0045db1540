"""Data sources of uint8 image tensors ``(N, C, H, W)``: photos, photos-wide, cifar10, mnist, fashion-mnist, folder.

Heavy optional imports (scikit-image, scikit-learn, matplotlib) happen only when the photos are built.
"""

from vqlab.data.base import ImageDataset, load_image_file
from vqlab.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "ImageDataset", "load_dataset", "load_image_file"]
