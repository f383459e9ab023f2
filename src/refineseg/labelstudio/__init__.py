"""Label Studio's formats: its brush RLE and its labelling configs (XML).

The bottom layer of refineseg's Label Studio support: both the importer
(:mod:`refineseg.data.importers.labelstudio`) and the ML backend (:mod:`refineseg.serve.labelstudio`)
read and write through these two modules, and they import nothing of refineseg above them.
"""

from __future__ import annotations

from .config import LabelConfig, LabelConfigError, label_config, match_classes, parse_config
from .rle import RLEError, decode_mask, encode_mask

__all__ = [
    "LabelConfig",
    "LabelConfigError",
    "RLEError",
    "decode_mask",
    "encode_mask",
    "label_config",
    "match_classes",
    "parse_config",
]
