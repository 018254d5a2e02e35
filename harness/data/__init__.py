"""Image data for estimators: the data set type (:mod:`.dataset`), its loaders (:mod:`.loading`) and the shared
seeded batches (:mod:`.batches`).

The loaders are split by job: :mod:`.locate` finds a data set on disk (or downloads it when asked),
:mod:`.layouts` reads one layout through the decoded-array cache (:mod:`.cache`), from pickled batches
(:mod:`.pickled`), image folders (:mod:`.trees`) or tar archives (:mod:`.archives`), decoded by
:mod:`.decode`; :mod:`.embedded` holds the data sets shipped inside PyPI packages.

Example::

    from nas_harness.data import BatchProvider, load_dataset

    data = BatchProvider(load_dataset("cifar10", limit_per_class=500), seed=0)
    x, y = data.train_batch(0, 64)
"""

from nas_harness.data.batches import BatchProvider, random_crop_flip
from nas_harness.data.cache import default_cache_dir
from nas_harness.data.dataset import CIFAR10_CLASSES, NB201_NORMALIZATION, DataError, ImageDataset
from nas_harness.data.loading import load_cifar_batches, load_dataset, load_image_folder, load_image_tar
from nas_harness.data.locate import candidate_paths, data_dirs

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
