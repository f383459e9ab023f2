"""The model card (``README.md``) of a refineseg model repository on the Hugging Face Hub.

Pure string building from what a weights file carries (architecture, classes, palette,
normalisation, provenance) and, optionally, the metrics JSON that ``refineseg evaluate
--output metrics.json`` writes: no model is built and no network is used.
:func:`check_card` parses the result with ``huggingface_hub.ModelCard`` as the Hub would.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._extras import index_install_command
from ..palette import class_names_or_default
from .hub import HF_PREFIX

if TYPE_CHECKING:
    from .io import WeightsFile

__all__ = [
    "DEFAULT_LICENSE",
    "card_metadata",
    "check_card",
    "count_parameters",
    "model_card",
    "read_evaluation",
]

DEFAULT_LICENSE = "apache-2.0"

# the metrics of `refineseg evaluate`'s JSON: key -> (model-index type, human name)
_METRICS = {
    "miou": ("mean_iou", "mIoU"),
    "pixel_accuracy": ("pixel_accuracy", "pixel accuracy"),
    "mean_accuracy": ("mean_accuracy", "mean class accuracy"),
    "fwiou": ("frequency_weighted_iou", "frequency-weighted IoU"),
}
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")  # batch-norm state, not parameters
# recipe entries that are paths on the machine that trained the model, kept off a public card
_LOCAL_RECIPE_KEYS = ("root", "output", "resume", "progress")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_evaluation(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the metrics JSON that ``refineseg evaluate --output metrics.json`` writes.

    Args:
        path: The JSON file.

    Returns:
        Its content: ``miou``, ``pixel_accuracy``, ``mean_accuracy``, ``fwiou`` (fractions),
        ``per_class_iou`` (class name to IoU or ``None``), ``num_images``, the settings
        (``scales``, ``flip``, ...) and, as ``refineseg evaluate`` writes them, ``dataset``,
        ``split`` and ``weights``.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not JSON, or not metrics as ``refineseg evaluate`` writes them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such metrics file (write one with refineseg evaluate ... --output {path.name})"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not _number(data.get("miou")):
        raise ValueError(f"{path}: not the metrics JSON of refineseg evaluate --output (no numeric 'miou')")
    bad = [key for key in _METRICS if key in data and data[key] is not None and not _number(data[key])]
    per_class = data.get("per_class_iou", {})
    if not isinstance(per_class, dict) or any(v is not None and not _number(v) for v in per_class.values()):
        bad.append("per_class_iou")
    if bad:
        raise ValueError(f"{path}: not the metrics JSON of refineseg evaluate --output (bad {', '.join(bad)})")
    return data


def count_parameters(state_dict: Mapping[str, Any]) -> int:
    """The model's parameter count, from its tensors alone (batch-norm statistics left out).

    Args:
        state_dict: The tensors of a weights file, by ``state_dict`` key.

    Returns:
        The number of values in the tensors that are parameters, as ``model.parameters()``
        counts them.
    """
    return sum(int(t.numel()) for key, t in state_dict.items() if not key.endswith(_BUFFERS))


def _dataset(weights: WeightsFile, evaluation: Mapping[str, Any] | None) -> str | None:
    """The dataset the model was trained on, as its provenance says (or, failing that, evaluated on)."""
    provenance = weights.meta.provenance
    recipe = provenance.get("recipe")
    recipe = recipe if isinstance(recipe, dict) else {}
    for value in (provenance.get("dataset"), recipe.get("dataset"), (evaluation or {}).get("dataset")):
        if isinstance(value, str) and value:
            return value
    return None


def _class_names(weights: WeightsFile) -> list[str]:
    num_classes = weights.arch_kwargs.get("num_classes")
    return class_names_or_default(weights.meta.class_names, num_classes if isinstance(num_classes, int) else 0)


def _check_classes(weights: WeightsFile, evaluation: Mapping[str, Any]) -> None:
    per_class = list(evaluation.get("per_class_iou") or {})
    if per_class and weights.meta.class_names and per_class != list(weights.meta.class_names):
        raise ValueError(
            f"the metrics are for the classes {', '.join(per_class[:5])}{', ...' if len(per_class) > 5 else ''}, "
            f"not the model's ({', '.join(weights.meta.class_names[:5])}"
            f"{', ...' if len(weights.meta.class_names) > 5 else ''}): metrics of another model?"
        )


def card_metadata(
    weights: WeightsFile,
    repo_id: str,
    *,
    evaluation: Mapping[str, Any] | None = None,
    license: str = DEFAULT_LICENSE,
) -> dict[str, Any]:
    """The YAML front matter of the model card, as a dict.

    Args:
        weights: The weights file, as :func:`~refineseg.weights.sources.read_weights` returns it.
        repo_id: The repository, ``ORG/NAME``.
        evaluation: The metrics as :func:`read_evaluation` returns them, for ``model-index``.
        license: The weights' licence, as a Hub licence identifier (``apache-2.0``, ``mit``, ...).

    Returns:
        ``library_name``, ``pipeline_tag``, ``license``, ``tags``, ``datasets`` (when the
        provenance names one) and ``model-index`` (with ``evaluation``).

    Raises:
        ValueError: The metrics are for other classes than the model's.
    """
    tags = ["refineseg", "semantic-segmentation", "refinenet"]
    if weights.arch.startswith("lw_"):
        tags.append("light-weight-refinenet")
    tags.append(weights.arch)
    meta: dict[str, Any] = {
        "library_name": "refineseg",
        "pipeline_tag": "image-segmentation",
        "license": license,
        "tags": tags,
    }
    dataset = _dataset(weights, evaluation)
    if dataset:
        meta["datasets"] = [dataset]
    if evaluation is not None:
        _check_classes(weights, evaluation)
        evaluated_on = evaluation.get("dataset") if isinstance(evaluation.get("dataset"), str) else None
        evaluated_on = evaluated_on or dataset or "custom"
        split = evaluation.get("split") if isinstance(evaluation.get("split"), str) else None
        data: dict[str, Any] = {"name": f"{evaluated_on} ({split})" if split else evaluated_on, "type": evaluated_on}
        if split:
            data["split"] = split
        metrics = [
            {"type": kind, "value": round(float(evaluation[key]), 4), "name": name}
            for key, (kind, name) in _METRICS.items()
            if _number(evaluation.get(key))
        ]
        meta["model-index"] = [
            {
                "name": repo_id.split("/")[-1],
                "results": [
                    {
                        "task": {"type": "image-segmentation", "name": "Semantic Segmentation"},
                        "dataset": data,
                        "metrics": metrics,
                    }
                ],
            }
        ]
    return meta


def _percent(value: object) -> str:
    return f"{100 * float(value):.2f}" if _number(value) else "n/a"  # type: ignore[arg-type]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _architecture(weights: WeightsFile) -> list[str]:
    lines = [
        "## Architecture",
        "",
        "| | |",
        "|---|---|",
        f"| builder | `{weights.arch}` (`refineseg.get_model({weights.arch!r}, ...)`) |",
    ]
    options = ", ".join(f"`{k}={v!r}`" for k, v in weights.arch_kwargs.items())
    if options:
        lines.append(f"| options | {_cell(options)} |")
    lines.append(f"| parameters | {count_parameters(weights.state_dict):,} |")
    lines.append(f"| classes | {len(_class_names(weights))} |")
    return [*lines, ""]


def _classes(weights: WeightsFile) -> list[str]:
    names = _class_names(weights)
    palette = weights.meta.palette or []
    lines = ["## Classes", "", "| index | class | colour (RGB) |", "|---|---|---|"]
    for i, name in enumerate(names):
        colour = (
            f"`#{palette[i][0]:02x}{palette[i][1]:02x}{palette[i][2]:02x}` ({', '.join(map(str, palette[i]))})"
            if i < len(palette)
            else "default palette"
        )
        lines.append(f"| {i} | {_cell(name)} | {colour} |")
    return [*lines, ""]


def _normalisation(weights: WeightsFile) -> list[str]:
    mean = ", ".join(f"{v:.4f}" for v in weights.meta.mean)
    std = ", ".join(f"{v:.4f}" for v in weights.meta.std)
    return [
        "## Input",
        "",
        f"RGB scaled to [0, 1], minus the mean ({mean}), divided by the standard deviation ({std}); "
        "any image size (the logits are upsampled to the input size). refineseg reads these from the "
        "weights file and preprocesses to match.",
        "",
    ]


def _provenance(weights: WeightsFile) -> list[str]:
    import yaml

    provenance = dict(weights.meta.provenance)
    if not provenance:
        return []
    recipe = provenance.pop("recipe", None)
    lines = ["## Provenance", ""]
    if provenance:
        lines += ["| | |", "|---|---|"]
        lines += [
            f"| {_cell(key)} | {_cell(f'{value:.4f}' if isinstance(value, float) else json.dumps(value))} |"
            for key, value in provenance.items()
        ]
        lines.append("")
    if isinstance(recipe, dict):
        shown = {k: v for k, v in recipe.items() if k not in _LOCAL_RECIPE_KEYS}
        text = yaml.safe_dump(shown, sort_keys=False, allow_unicode=True, default_flow_style=None).rstrip("\n")
        lines += ["The training recipe (`refineseg train` settings):", "", "```yaml", text, "```", ""]
    return lines


def _metrics(evaluation: Mapping[str, Any]) -> list[str]:
    where = " ".join(str(evaluation[k]) for k in ("dataset", "split") if isinstance(evaluation.get(k), str))
    settings = []
    if isinstance(evaluation.get("num_images"), int):
        settings.append(f"{evaluation['num_images']} images")
    if evaluation.get("scales"):
        settings.append(f"scales {', '.join(str(s) for s in evaluation['scales'])}")
    if evaluation.get("flip"):
        settings.append("with flips")
    if evaluation.get("crop_size"):
        settings.append(f"{evaluation['crop_size']}-pixel windows")
    if evaluation.get("precision"):
        settings.append(str(evaluation["precision"]))
    detail = f" ({', '.join(settings)})" if settings else ""
    lines = [
        "## Evaluation",
        "",
        f"Measured by `refineseg evaluate`{f' on {where}' if where else ''}{detail}:",
        "",
        "| metric | % |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_percent(evaluation[key])} |" for key, (_, name) in _METRICS.items() if key in evaluation]
    per_class = evaluation.get("per_class_iou") or {}
    if per_class:
        lines += ["", "| class | IoU % |", "|---|---|"]
        lines += [f"| {_cell(name)} | {_percent(iou)} |" for name, iou in per_class.items()]
    return [*lines, ""]


def _usage(repo_id: str) -> list[str]:
    spec = HF_PREFIX + repo_id
    return [
        "## Use it",
        "",
        "```bash",
        # the card's readers install refineseg from the package index (install_hint would name the
        # publisher's own checkout when refineseg was installed from one)
        index_install_command("hub"),
        f"refineseg predict photo.jpg --weights {spec} --output out/",
        "```",
        "",
        "```python",
        "import refineseg",
        "",
        f'seg = refineseg.Segmenter.from_pretrained("{spec}")',
        'labels = seg("photo.jpg")  # HxW class indices',
        'seg.overlay("photo.jpg").save("overlay.jpg")  # the class colours over the image',
        f'model = refineseg.load_model("{spec}")  # the PyTorch model, in eval mode',
        "```",
        "",
        f"`{spec}@REVISION` loads a branch, tag or commit. The file is downloaded once into the Hugging "
        "Face Hub cache; with `HF_HUB_OFFLINE=1` it is read from there without the network.",
        "",
    ]


def model_card(
    weights: WeightsFile,
    repo_id: str,
    *,
    evaluation: Mapping[str, Any] | None = None,
    license: str = DEFAULT_LICENSE,
) -> str:
    """The model card of a refineseg model repository: YAML front matter and Markdown.

    Args:
        weights: The weights file, as :func:`~refineseg.weights.sources.read_weights` returns it.
        repo_id: The repository, ``ORG/NAME``.
        evaluation: The metrics as :func:`read_evaluation` returns them: ``model-index`` in the
            front matter and tables of the metrics and per-class IoU in the text.
        license: The weights' licence, as a Hub licence identifier.

    Returns:
        The ``README.md`` text: front matter (see :func:`card_metadata`), then the architecture,
        the classes with their colours, the input normalisation, the provenance, the metrics and
        how to use the model.

    Raises:
        ValueError: The metrics are for other classes than the model's.
    """
    import yaml

    meta = card_metadata(weights, repo_id, evaluation=evaluation, license=license)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
    family = "Light-Weight RefineNet" if weights.arch.startswith("lw_") else "RefineNet"
    lines = [
        "---",
        front.rstrip("\n"),
        "---",
        "",
        f"# {repo_id}",
        "",
        f"A {family} semantic segmentation model for [refineseg](https://pypi.org/project/refineseg/): "
        f"`{weights.arch}` predicting {len(_class_names(weights))} classes. `model.safetensors` is a refineseg "
        "weights file: safetensors (no code runs when it loads) whose metadata holds the architecture, the class "
        "names, the palette and the input normalisation, so it rebuilds its model alone.",
        "",
        *_usage(repo_id),
        *_architecture(weights),
        *_classes(weights),
        *_normalisation(weights),
        *_provenance(weights),
        *(_metrics(evaluation) if evaluation is not None else []),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def check_card(text: str) -> None:
    """Parse a model card as the Hugging Face Hub library does (offline: its metadata is not
    sent to the Hub's validator).

    Args:
        text: The ``README.md`` text.

    Raises:
        ImportError: ``huggingface_hub`` is not installed.
        ValueError: The front matter is not valid model card metadata.
    """
    from .hub import require_huggingface_hub

    hub = require_huggingface_hub("checking a model card")
    try:
        card = hub.ModelCard(text)
    except Exception as exc:  # yaml errors, KeyErrors of a malformed model-index, ...
        raise ValueError(f"invalid model card metadata: {exc}") from None
    if card.data.get("library_name") != "refineseg":
        raise ValueError("invalid model card metadata: no 'library_name: refineseg'")
