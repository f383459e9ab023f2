"""A light core: importing refineseg, asking for help and segmenting images pull in only what they use.

Each case runs in a fresh interpreter and lists what it imported; benchmarks/startup.py measures
the time these save.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refineseg._extras import install_hint
from refineseg.cli import COMMANDS

TRAINING_STACK = ("lightning", "torchmetrics", "tensorboard")


def _imported(code: str) -> set[str]:
    """The top-level packages and refineseg modules a fresh interpreter has after running ``code``."""
    probe = f"""
import json, sys
try:
{chr(10).join("    " + line for line in code.strip().splitlines())}
except SystemExit:
    pass
sys.stdout = sys.__stdout__
print("\\n" + json.dumps(sorted({{m if m.startswith("refineseg") else m.split(".")[0] for m in sys.modules}})))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_import_refineseg_imports_no_torch():
    loaded = _imported("import refineseg")
    assert "torch" not in loaded and "refineseg.models" not in loaded


@pytest.mark.parametrize("command", [None, *(c.__name__.rsplit(".", 1)[1].replace("_", "-") for c in COMMANDS)])
def test_help_imports_no_torch(command):
    argv = ["--help"] if command is None else [command, "--help"]
    loaded = _imported(
        f"import contextlib, io\nfrom refineseg.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    main({argv!r})"
    )
    assert "torch" not in loaded, f"refineseg {' '.join(argv)} imported torch"


def test_segmenting_imports_neither_the_training_stack_nor_the_datasets():
    loaded = _imported(
        "import numpy as np, refineseg\nrefineseg.Segmenter.from_pretrained('camvid')(np.zeros((32, 48, 3), np.uint8))"
    )
    assert "torch" in loaded
    heavy = [
        m
        for m in loaded
        if m in (*TRAINING_STACK, "torchvision")
        or m.startswith(("refineseg.data", "refineseg.evaluation", "refineseg.training"))
    ]
    assert heavy == []


def test_training_without_its_extra_says_what_to_install():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['lightning'] = None\nfrom refineseg.cli import main\nsys.exit(main(['train', '--dataset', 'camvid', '--root', 'x']))",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"refineseg train: error: training needs Lightning: {install_hint('train')}"


def test_the_light_constants_match_what_they_stand_for():
    from refineseg import constants
    from refineseg.data import list_datasets
    from refineseg.data.importers import FORMATS
    from refineseg.training.losses import LOSS_NAMES

    assert tuple(d.name for d in list_datasets()) == constants.DATASET_NAMES
    assert set(constants.ANNOTATION_FORMATS) == set(FORMATS)
    assert tuple(constants.LOSS_DESCRIPTIONS) == LOSS_NAMES
