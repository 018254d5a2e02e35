"""Image data for estimators: loaders (:mod:`.images`) and the shared seeded batches (:mod:`.batches`).

Example::

    from nas_harness.data import BatchProvider, load_dataset

    data = BatchProvider(load_dataset("cifar10", limit_per_class=500), seed=0)
    x, y = data.train_batch(0, 64)
"""

from nas_harness.data.batches import BatchProvider, random_crop_flip
from nas_harness.data.images import (
    CIFAR10_CLASSES,
    NB201_NORMALIZATION,
    DataError,
    ImageDataset,
    candidate_paths,
    data_dirs,
    default_cache_dir,
    load_cifar_batches,
    load_image_folder,
    load_image_tar,
)
from nas_harness.data.loading import load_dataset

__all__ = [
    "CIFAR10_CLASSES",
    "NB201_NORMALIZATION",
    "BatchProvider",
    "DataError",
    "ImageDataset",
    "candidate_paths",
    "data_dirs",
    "default_cache_dir",
    "load_cifar_batches",
    "load_dataset",
    "load_image_folder",
    "load_image_tar",
    "random_crop_flip",
]
