"""Readers for each dataset format; every one yields `Sample`s in the common LSP-14 joint set."""

from data_pipeline.readers.coco import read_coco
from data_pipeline.readers.lsp import default_splits, read_lsp
from data_pipeline.readers.sample import Sample
from data_pipeline.readers.surreal import ClipRef, list_surreal_clips, read_surreal, read_surreal_clip

__all__ = [
    "ClipRef",
    "Sample",
    "default_splits",
    "list_surreal_clips",
    "read_coco",
    "read_lsp",
    "read_surreal",
    "read_surreal_clip",
]
