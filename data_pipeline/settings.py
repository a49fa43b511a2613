"""The one way posetune's settings classes validate (pydantic v2): every config section, from the YAML
file to `fit`, is a `settings_dataclass`, so a key is checked the same way wherever it is set.

Unknown keys are refused, numbers must be finite, and fields annotated `StrictInt`/`StrictFloat`/
`StrictBool`/`StrictStr` take no look-alikes (`"3"` is no integer, `1` no boolean). Bounds and a one-line
description sit beside each field (`Field(..., ge=0, description=...)`).
"""

from __future__ import annotations

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

SETTINGS = ConfigDict(extra="forbid", allow_inf_nan=False)


def settings_dataclass(cls=None, /, *, frozen: bool = False):
    """Class decorator: a dataclass validated by pydantic with posetune's rules (SETTINGS)."""
    wrap = dataclass(config=SETTINGS, frozen=frozen)
    return wrap if cls is None else wrap(cls)
