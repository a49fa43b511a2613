"""Procedural demo data: synthetic articulated people written in SURREAL's format (source) and LSP's (target).

The body is a 3D stick skeleton with SMPL's 24 joints, posed by a few angles per limb, seen through
SURREAL's camera (K = [[600,0,160],[0,600,120],[0,0,1]], whose rotation is a reflection, so SMPL's L_* joints
land where an annotator labels the person's right). Each of SMPL's 24 parts is a filled ellipse around its
bone, drawn far to near (painter's order), which gives the part-id map `segm` and natural self-occlusion.

The two domains share the pose distribution and differ in looks:
- source (SURREAL-like): flat-coloured clothing, soft rounded shading, the person's brightness drawn
  independently of the background (SURREAL composites renders onto unrelated photos), indoor-style
  backgrounds (gradients, smooth noise, rectangles and discs), 320x240 frames, hard silhouette edges,
  mp4-compressed clips of 10-30 frames that animate smoothly.
- target (LSP-like), by named factors with a strength knob each (data_pipeline.shift.DomainShift; 0 = as
  the source, 1 = default): lighting (scene and person lit by one illuminant: level, colour cast,
  direction), background (outdoor scenes, limb-like clutter), texture (striped, checked, noisy clothing),
  occluders (objects in front of the person), degradation (blur, sensor noise, JPEG) and framing (tight,
  tilted, person sizes unlike the source camera's).

One job per module: `camera` (SURREAL's camera), `body` (skeleton and pose), `paint` (parts, outfits,
shading), `backgrounds`, `source` (clips, SURREAL's files), `target` (LSP-style images), `write` (the
whole set on disk). The names other packages use are re-exported here.
"""

from data_pipeline.demo.backgrounds import outdoor_background, source_background
from data_pipeline.demo.body import (
    POSE_KEYS,
    POSE_RANGES,
    Body,
    pose_vector,
    sample_body,
    sample_pose,
    skeleton,
)
from data_pipeline.demo.camera import FPS, FRAME_SIZE, backproject, project
from data_pipeline.demo.source import Clip, render_clip, video_fourcc, write_clip
from data_pipeline.demo.target import render_target
from data_pipeline.demo.write import DEMO_MARKER, DEMO_PARTS, TARGET_PER_CLIP, demo_exists, write_demo

__all__ = [
    "DEMO_MARKER",
    "DEMO_PARTS",
    "FPS",
    "FRAME_SIZE",
    "POSE_KEYS",
    "POSE_RANGES",
    "TARGET_PER_CLIP",
    "Body",
    "Clip",
    "backproject",
    "demo_exists",
    "outdoor_background",
    "pose_vector",
    "project",
    "render_clip",
    "render_target",
    "sample_body",
    "sample_pose",
    "skeleton",
    "source_background",
    "video_fourcc",
    "write_clip",
    "write_demo",
]
