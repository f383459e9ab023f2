"""Golden test: the shipped CamVid model still segments the README's street photo as recorded.

``docs/images/street.png`` is a palette PNG whose pixel values are class indices, written by the
shipped model in fp32. Regenerate it only when the shipped model changes (and then check the
README pictures), with::

    refineseg predict docs/images/street.jpg --output docs/images/ --precision fp32

A failure here means something between the weights file and the labels (loading, the
inference optimisations, normalisation, resizing, arg-max) changed the model's answers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import refineseg

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
MIN_AGREEMENT = 0.999  # fraction of pixels whose arg-max must match; fp32 on CPU gives 100%


def test_shipped_model_reproduces_the_recorded_street_labels():
    with Image.open(IMAGES / "street.png") as png:
        assert png.mode == "P"
        expected = np.asarray(png)
    # fp32 explicitly: the default "auto" may run bf16 on CPUs with native bf16, which moves a few pixels
    segmenter = refineseg.Segmenter.from_pretrained("camvid", precision="fp32")
    assert segmenter.precision == "fp32"
    labels = segmenter(IMAGES / "street.jpg")
    assert labels.shape == expected.shape
    agreement = float((labels == expected).mean())
    assert agreement >= MIN_AGREEMENT, (
        f"only {agreement:.4%} of pixels match docs/images/street.png ({int((labels != expected).sum())} differ)"
    )
