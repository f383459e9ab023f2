"""The documentation site builds with ``mkdocs build --strict``: broken links, pages left out of
the nav and docstrings griffe cannot parse (a documented parameter the signature lacks, a
malformed section) are errors. Needs the ``[docs]`` extra; skipped without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")
pytest.importorskip("material")

pytestmark = pytest.mark.slow  # builds the docs site with mkdocs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.mark.parametrize(
    ("page", "name"),
    [
        ("api/models/index.html", "refineseg.models.builders.lw_refinenet_resnet50"),
        ("api/blocks/index.html", "refineseg.blocks.ChainedResidualPooling"),
        ("api/data/index.html", "refineseg.data.registry.get_dataset"),
        ("api/inference/index.html", "refineseg.inference.segmenter.Segmenter"),
    ],
)
def test_api_page_documents(site: Path, page: str, name: str) -> None:
    html = (site / page).read_text(encoding="utf-8")
    assert f'id="{name}"' in html, f"{page} has no entry for {name}"


def test_guides_are_built(site: Path) -> None:
    for guide in ("ARCHITECTURE", "BENCHMARKS", "LOSSES", "MODEL_CARD_CAMVID", "OWN_DATA"):
        assert (site / guide / "index.html").is_file(), guide
    assert (site / "index.html").is_file()
