"""Datasets and episode sampling."""

from ebmm.data.binary import random_binary_patterns
from ebmm.data.idx import read_idx_images
from ebmm.data.images import DATASETS, ImageSet, clear_image_cache, load_images, resolve_data_dir, sample_episodes
from ebmm.data.prepare import PREPARERS, prepare_fashion_mnist, prepare_mnist

__all__ = [
    "DATASETS",
    "PREPARERS",
    "ImageSet",
    "clear_image_cache",
    "load_images",
    "prepare_fashion_mnist",
    "prepare_mnist",
    "random_binary_patterns",
    "read_idx_images",
    "resolve_data_dir",
    "sample_episodes",
]
