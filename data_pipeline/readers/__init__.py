"""Readers for each dataset format; every one yields `Sample`s in the common LSP-14 joint set.

Each format is also split into `list_*` (cheap: paths and labels) and `read_*` of one unit (decode), so the
Ray Data job can spread units over workers and account for every one."""

from data_pipeline.readers.coco import CocoImageRef, list_coco_images, read_coco, read_coco_image
from data_pipeline.readers.lsp import LspImageRef, default_splits, list_lsp_images, read_lsp, read_lsp_image
from data_pipeline.readers.mpii import MpiiImageRef, list_mpii_images, read_mpii, read_mpii_image
from data_pipeline.readers.sample import Sample
from data_pipeline.readers.surreal import ClipRef, list_surreal_clips, read_surreal, read_surreal_clip

__all__ = [
    "ClipRef",
    "CocoImageRef",
    "LspImageRef",
    "MpiiImageRef",
    "Sample",
    "default_splits",
    "list_coco_images",
    "list_lsp_images",
    "list_mpii_images",
    "list_surreal_clips",
    "read_coco",
    "read_coco_image",
    "read_lsp",
    "read_lsp_image",
    "read_mpii",
    "read_mpii_image",
    "read_surreal",
    "read_surreal_clip",
]
