"""``Segmenter``: a trained model plus everything needed to use it on real images.

It normalises with the model's own mean and std, predicts at the image's full size, switches
to sliding windows above a pixel budget so memory stays bounded, and turns labels into
palette PNGs, colour overlays and per-class shares, using the class names and palette that
travel inside the weights file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..constants import DEFAULT_TILE_SIZE, DEFAULT_WHOLE_IMAGE_PIXELS
from ..models import InferenceModel
from ..palette import class_names_or_default, palette_or_default
from .backends import BACKENDS, Backend, BackendChoice, open_model
from .images import DEFAULT_MAX_IMAGE_PIXELS, ImageLike, load_image
from .precision import precision_of
from .prepare import prepare_model
from .tta import predict_probabilities

__all__ = ["BACKENDS", "DEFAULT_TILE_SIZE", "DEFAULT_WHOLE_IMAGE_PIXELS", "Backend", "Segmenter"]


class Segmenter:
    """Segment images with a trained model.

    >>> seg = Segmenter.from_pretrained("camvid")        # shipped weights, no network
    >>> labels = seg("street.png")                       # HxW uint8 class indices
    >>> seg.overlay("street.png").save("overlay.jpg")    # colour overlay as a PIL image

    Attributes:
        model: The model as it runs (optimised, bf16 or int8 as ``precision`` says).
        device: Where it runs.
        precision: What it runs in: ``fp32``, ``bf16`` or ``int8`` (``"auto"`` resolved, and
            fp32 where bf16 moved the outputs too far).
        backend: What runs it: ``pytorch``, ``onnxruntime``, ``openvino`` (or ``torch_export``,
            ``torchscript`` for those exported programs).
        class_names: One name per class (``class_<i>`` where the model has none).
        palette: One RGB colour per class (a default palette where the model has none).
    """

    def __init__(
        self,
        model: InferenceModel,
        *,
        device: str | torch.device = "cpu",
        scales: Sequence[float] = (1.0,),
        flip: bool = False,
        whole_image_pixels: int = DEFAULT_WHOLE_IMAGE_PIXELS,
        tile_size: int = DEFAULT_TILE_SIZE,
        max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
        optimize: bool = True,
        compile: bool = False,
        precision: str = "auto",
        calibration: Sequence[ImageLike] | None = None,
        backend: BackendChoice | None = None,
    ) -> None:
        """Prepare ``model`` to run on ``device`` in ``precision``.

        Args:
            model: A refineseg PyTorch model or an exported model (:mod:`.runtime`).
            device: Where to run; exported models run on the CPU only.
            scales: Image scales whose probabilities are averaged (test-time augmentation).
            flip: Also average over horizontally mirrored images.
            whole_image_pixels: Images (times the largest scale squared) with more pixels
                run as overlapping ``tile_size`` windows, so memory stays bounded.
            tile_size: The side of those windows; at least 32.
            max_pixels: Refuse images with more pixels than this (``None``: no limit).
            optimize: Run a PyTorch model through :func:`optimize_for_inference` (same
                outputs, several times faster on a CPU).
            compile: Add ``torch.compile``, which pays only for many images of one size.
            precision: ``"auto"`` runs the optimised model in bf16 on CPUs with native bf16
                matrix instructions (the shipped model's CamVid val mIoU moves by 0.02 points
                there, docs/BENCHMARKS.md) and in fp32 elsewhere, or when bf16 moves a model's
                outputs beyond the check of :func:`optimize_for_inference`; ``"fp32"`` is exact
                everywhere; ``"bf16"`` forces bf16; ``"int8"`` quantizes the model with ONNX
                Runtime. ``self.precision`` says which ran.
            calibration: For ``"int8"`` only: images that set the activation ranges (a few
                dozen like those it will see; the result is cached, see
                :func:`~refineseg.inference.quantize.int8_model`).
            backend: What runs a PyTorch model: ``None`` or ``"auto"`` (the default), the
                fastest runtime installed, measured once for this model, precision and CPU
                (:mod:`~refineseg.inference.auto_backend`; PyTorch, or ONNX Runtime for int8,
                without ``[openvino]``); or ``"pytorch"``, ``"onnxruntime"`` or ``"openvino"``
                (exported to ONNX first, in fp32, bf16 on OpenVINO, or int8). An exported
                model runs with its own runtime.

        Raises:
            ValueError: ``scales`` not all positive, ``tile_size`` below 32, or precision,
                device and calibration that do not go together (see :func:`prepare_model`).
        """
        if not scales or any(s <= 0 for s in scales):
            raise ValueError(f"scales must be positive numbers, got {list(scales)}")
        if tile_size < 32:
            raise ValueError(f"tile_size must be at least 32 pixels, got {tile_size}")
        self.device = torch.device(device)
        model = prepare_model(
            model,
            device=self.device,
            precision=precision,
            optimize=optimize,
            compile=compile,
            calibration=calibration,
            backend=backend,
        )
        self.model = model
        # what it runs in: "auto" resolves to bf16 or fp32, and falls back to fp32 for a model bf16 moves too far
        self.precision = precision_of(model)
        self.backend: str = getattr(model, "backend", "pytorch")
        self.scales = tuple(scales)
        self.flip = flip
        self.whole_image_pixels = whole_image_pixels
        self.tile_size = tile_size
        self.max_pixels = max_pixels
        meta = model.meta
        n = model.num_classes
        self.class_names: list[str] = class_names_or_default(meta.class_names, n)
        self.palette: list[tuple[int, int, int]] = palette_or_default(meta.palette, n)
        self._mean = torch.tensor(meta.mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(meta.std, device=self.device).view(1, 3, 1, 1)

    @classmethod
    def from_pretrained(
        cls,
        weights: str | os.PathLike[str] = "camvid",
        *,
        device: str | torch.device = "cpu",
        backend: BackendChoice | None = None,
        **options: object,
    ) -> Segmenter:
        """Load shipped weights by name (``"camvid"``), a published checkpoint's name, or a weights file.

        What runs it is :func:`~refineseg.inference.backends.open_model`'s choice: an exported
        ``.onnx`` file (``refineseg export``) runs with ONNX Runtime; a ``.pt2`` (torch.export) or
        TorchScript file runs in PyTorch as exported: on the CPU, in fp32, without further
        optimisation. A published checkpoint is downloaded once, as by ``load_model``.

        Args:
            weights: A catalogue name, a refineseg ``.safetensors`` file or an exported file.
            device: Where a PyTorch model runs.
            backend: ``None`` or ``"auto"`` (the default): ``"onnxruntime"`` for an ``.onnx``
                file, else the fastest runtime installed (see :class:`Segmenter`).
                ``"onnxruntime"`` or ``"openvino"`` with other weights exports them to ONNX
                first (made once and cached); ``"openvino"`` also runs an ``.onnx`` file.
            **options: Passed on to :class:`Segmenter` (``precision``, ``scales``, ...).

        Returns:
            A ready segmenter.

        Raises:
            ValueError: An unknown backend, or one that cannot run this kind of file.
            FileNotFoundError: No such file or weights name.
        """
        model = open_model(weights, backend=backend, compile=bool(options.get("compile")))
        return cls(model, device=device, backend=backend, **options)  # type: ignore[arg-type]

    @property
    def num_classes(self) -> int:
        """The number of classes the model predicts."""
        return len(self.class_names)

    # -- prediction ---------------------------------------------------------------------------

    def __call__(self, image: ImageLike) -> np.ndarray:
        """Class index per pixel, an ``HxW`` uint8 array (int32 above 256 classes) at the image's size.

        Args:
            image: A path, PIL image, array or tensor (see :func:`load_image`).

        Returns:
            The labels.

        Raises:
            ImageReadError: ``image`` cannot be read as an image.
        """
        return self.predict_batch([image])[0]

    def probabilities(self, image: ImageLike) -> np.ndarray:
        """Softmax class probabilities, a ``CxHxW`` float32 array at the image's size.

        Args:
            image: A path, PIL image, array or tensor (see :func:`load_image`).

        Returns:
            The probabilities.

        Raises:
            ImageReadError: ``image`` cannot be read as an image.
        """
        return self.batch_probabilities([load_image(image, max_pixels=self.max_pixels)])[0].cpu().numpy()

    def predict_batch(self, images: Sequence[ImageLike], *, batch_size: int = 8) -> list[np.ndarray]:
        """Labels for several images; up to ``batch_size`` images of the same size run together.

        Args:
            images: Paths, PIL images, arrays or tensors (see :func:`load_image`), of any sizes.
            batch_size: How many same-size images run through the model at once.

        Returns:
            One ``HxW`` label array per image, in order (as :meth:`__call__` gives them).

        Raises:
            ValueError: ``batch_size`` is below 1.
            ImageReadError: An image cannot be read.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        arrays = [load_image(im, max_pixels=self.max_pixels) for im in images]
        results: list[np.ndarray | None] = [None] * len(arrays)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, array in enumerate(arrays):
            groups.setdefault(array.shape[:2], []).append(i)
        for same_size in groups.values():
            for start in range(0, len(same_size), batch_size):
                indices = same_size[start : start + batch_size]
                labels = self.batch_labels([arrays[i] for i in indices])
                for i, label in zip(indices, labels, strict=True):
                    results[i] = label
        return [r for r in results if r is not None]

    def labels_from_probabilities(self, probabilities: Tensor | np.ndarray) -> list[np.ndarray]:
        """Arg-max labels of an ``NxCxHxW`` (or ``CxHxW``) probability array.

        Args:
            probabilities: Class probabilities (or logits), a tensor or an array.

        Returns:
            One ``HxW`` uint8 label array per image (int32 above 256 classes).
        """
        probs = torch.as_tensor(probabilities)
        if probs.dim() == 3:
            probs = probs[None]
        dtype = np.uint8 if probs.shape[1] <= 256 else np.int32
        if probs.device.type == "cpu" and probs.dtype == torch.float32 and probs.stride(1) != 1:
            # classes not innermost (NCHW, as ONNX Runtime and OpenVINO answer): numpy's arg-max
            # over that axis is ~3x faster than torch's (6 ms against 17 ms for the shipped
            # model's 11x360x480 logits); both return the first of equal maxima
            return [p.numpy().argmax(0).astype(dtype) for p in probs]
        return [p.argmax(0).cpu().numpy().astype(dtype) for p in probs]

    @torch.inference_mode()
    def batch_labels(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Labels of same-size ``HxWx3`` uint8 RGB arrays, as :meth:`labels_from_probabilities` of
        :meth:`batch_probabilities` gives them.

        At one scale, without flips or tiles, the arg-max is taken of the logits directly (by
        OpenVINO inside its graph when it runs the model): the softmax is monotonic, so the
        labels are the same, and it costs as much as a tenth of the shipped model's time on a CPU.

        Args:
            arrays: The images, already loaded, all of one size.

        Returns:
            One ``HxW`` label array per image.

        Raises:
            ValueError: ``arrays`` is empty or its images differ in shape.
        """
        x = self._normalised(arrays)
        if tuple(self.scales) != (1.0,) or self.flip or self._tiled(x):
            return self.labels_from_probabilities(self.batch_probabilities(arrays))
        in_runtime = getattr(self.model, "labels", None)  # OpenVINO: the arg-max inside its graph
        if in_runtime is not None:
            return list(in_runtime(x))
        return self.labels_from_probabilities(self.model(x))

    @torch.inference_mode()
    def batch_labels_and_probabilities(self, arrays: Sequence[np.ndarray]) -> tuple[list[np.ndarray], Tensor]:
        """:meth:`batch_labels` and the ``NxCxHxW`` probabilities, from one run of the model.

        The labels are exactly :meth:`batch_labels`'s (the arg-max of the logits at one scale:
        a softmax can round two close logits to the same probability), so a caller that also
        needs the probabilities (an uncertainty score) labels pixels as ``predict`` does.

        Args:
            arrays: The images, already loaded, all of one size.

        Returns:
            The labels, one ``HxW`` array per image, and the probabilities on the segmenter's device.

        Raises:
            ValueError: ``arrays`` is empty or its images differ in shape.
        """
        x = self._normalised(arrays)
        if tuple(self.scales) != (1.0,) or self.flip or self._tiled(x):
            probabilities = self.batch_probabilities(arrays)
            return self.labels_from_probabilities(probabilities), probabilities
        logits = torch.as_tensor(self.model(x))
        return self.labels_from_probabilities(logits), logits.float().softmax(1)

    def _normalised(self, arrays: Sequence[np.ndarray]) -> Tensor:
        if not arrays or any(a.shape != arrays[0].shape for a in arrays):
            raise ValueError("batch_probabilities needs one or more RGB arrays of the same size")
        x = torch.from_numpy(np.stack(arrays)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self._mean) / self._std

    def _tiled(self, x: Tensor) -> bool:
        return bool(x.shape[-2] * x.shape[-1] * max(self.scales) ** 2 > self.whole_image_pixels)

    @torch.inference_mode()
    def batch_probabilities(self, arrays: Sequence[np.ndarray]) -> Tensor:
        """``NxCxHxW`` probabilities of same-size ``HxWx3`` uint8 RGB arrays (see :func:`load_image`).

        Args:
            arrays: The images, already loaded, all of one size.

        Returns:
            The probabilities, on the segmenter's device.

        Raises:
            ValueError: ``arrays`` is empty or its images differ in shape.
        """
        x = self._normalised(arrays)
        return predict_probabilities(
            self.model, x, scales=self.scales, flip=self.flip, crop_size=self.tile_size if self._tiled(x) else None
        )

    # -- presentation -------------------------------------------------------------------------

    def label_image(self, labels: np.ndarray) -> Image.Image:
        """A palette-mode PIL image of ``labels`` (lossless when saved as PNG), coloured by the model's palette.

        Args:
            labels: An ``HxW`` label array.

        Returns:
            The palette image.

        Raises:
            ValueError: ``labels`` is not 2-d, or the model has more than 256 classes.
        """
        if labels.ndim != 2:
            raise ValueError(f"expected an HxW label array, got shape {labels.shape}")
        if self.num_classes > 256:
            raise ValueError(f"a palette image holds at most 256 classes, the model has {self.num_classes}")
        height, width = labels.shape
        im = Image.frombytes("P", (width, height), np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
        flat = [v for colour in self.palette for v in colour]
        im.putpalette(flat + [0] * (768 - len(flat)))
        return im

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 colours of ``labels``.

        Args:
            labels: A label array; values beyond the palette take its last colour.

        Returns:
            The colours from :attr:`palette`.
        """
        palette = np.asarray(self.palette, dtype=np.uint8)
        return np.take(palette, labels, axis=0, mode="clip")  # one pass: a few times faster than clip, then index

    def overlay(self, image: ImageLike, labels: np.ndarray | None = None, *, alpha: float = 0.5) -> Image.Image:
        """The image blended with its class colours, an RGB PIL image.

        Args:
            image: A path, PIL image, array or tensor (see :func:`load_image`).
            labels: Its labels, if already predicted; ``None`` predicts them.
            alpha: The share of colour in the blend, in [0, 1].

        Returns:
            The overlay.

        Raises:
            ValueError: ``alpha`` is outside [0, 1], or ``labels`` do not match the image's size.
            ImageReadError: ``image`` cannot be read as an image.
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        rgb = load_image(image, max_pixels=self.max_pixels)
        if labels is None:
            labels = self(rgb)
        if labels.shape != rgb.shape[:2]:
            raise ValueError(f"labels of shape {labels.shape} do not match the image's {rgb.shape[:2]}")
        # PIL's blend in C: several times faster than a float32 blend in numpy, within 1 of the
        # rounded blend; outputs are drawn while the model runs, on its cores
        return Image.blend(Image.fromarray(rgb), Image.fromarray(self.colorize(labels)), alpha)

    def class_pixels(self, labels: np.ndarray) -> dict[str, int]:
        """Pixels given to each class, largest first, classes that occur only.

        Args:
            labels: A label array.

        Returns:
            Pixel counts by class name.
        """
        counts = np.bincount(labels.ravel().astype(np.int64), minlength=self.num_classes)
        order = np.argsort(-counts, kind="stable")
        return {self.class_names[i]: int(counts[i]) for i in order if counts[i] > 0}

    def class_shares(self, labels: np.ndarray) -> dict[str, float]:
        """Fraction of the pixels given to each class, largest first, classes that occur only.

        Args:
            labels: A label array.

        Returns:
            Shares in [0, 1] by class name.
        """
        total = max(labels.size, 1)
        return {name: count / total for name, count in self.class_pixels(labels).items()}

    def __repr__(self) -> str:
        arch = getattr(self.model, "arch", type(self.model).__name__)
        return (
            f"Segmenter({arch}, {self.num_classes} classes, device={self.device}, precision={self.precision}, "
            f"scales={list(self.scales)})"
        )
