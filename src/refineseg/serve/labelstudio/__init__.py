"""The Label Studio ML backend (``refineseg label-studio-backend``): pre-labels tasks with a model.

Needs ``pip install 'refineseg[labelstudio]'``. See :mod:`.app` for the protocol, :mod:`.fetch`
for where images may come from, :mod:`.predictions` for the regions answered.
"""

from __future__ import annotations

from .app import LabelStudioBackend, create_backend_app, model_version
from .fetch import ImageSource, TaskImageError

__all__ = ["ImageSource", "LabelStudioBackend", "TaskImageError", "create_backend_app", "model_version"]
