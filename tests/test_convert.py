import pickle

import pytest
import torch
import torch.nn.functional as F

import refineseg
from refineseg.weights.convert import (
    REFERENCE_ARCHS,
    ConversionError,
    convert_checkpoint,
    convert_state_dict,
    load_reference_checkpoint,
)

from .reference_layouts import DATA, conditioned_reference_state_dict, reference_state_dict
from .reference_layouts import REFERENCE_ARCHS as LAYOUT_NAMES


@pytest.mark.parametrize("reference", LAYOUT_NAMES)
def test_every_reference_key_maps_once_onto_the_model(reference):
    """The recorded reference layout converts to exactly our model's keys and shapes."""
    state = reference_state_dict(reference, device="meta")
    converted = convert_state_dict(state, reference)
    assert len(converted) == len(state)
    with torch.device("meta"):
        model = refineseg.get_model(REFERENCE_ARCHS[reference], num_classes=21)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected


@pytest.mark.parametrize("depth", [50, 152])
def test_pip_package_layout_for_other_depths_converts(depth):
    """best-of-acrv/refinenet saves rf101's decoder keys over torchvision's ResNet-50/152 keys."""
    import torchvision

    decoder = {
        k: v
        for k, v in reference_state_dict("rf101", device="meta").items()
        if not k.startswith(("conv1", "bn1", "layer"))
    }
    with torch.device("meta"):
        encoder = getattr(torchvision.models, f"resnet{depth}")().state_dict()
        model = refineseg.get_model(f"refinenet_resnet{depth}", num_classes=21)
    state = {**{k: v for k, v in encoder.items() if not k.startswith("fc.")}, **decoder}
    converted = convert_state_dict(state, f"refinenet{depth}")
    assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_old_checkpoints_without_batchnorm_counters_convert():
    state = {k: v for k, v in reference_state_dict("rf_lw50", device="meta").items() if "num_batches_tracked" not in k}
    converted = convert_state_dict(state, "rf_lw50")
    assert converted["encoder.bn1.num_batches_tracked"].item() == 0


def test_leftover_and_missing_keys_are_errors():
    state = reference_state_dict("mbv2", device="meta")
    state["segm_extra.weight"] = torch.empty(1, device="meta")
    del state["crp2.0.3_outvar_dimred.weight"]
    with pytest.raises(ConversionError) as err:
        convert_state_dict(state, "mbv2")
    assert "segm_extra.weight" in str(err.value) and "crp2.0.3_outvar_dimred" in str(err.value)


def test_wrong_layout_for_the_arch_is_an_error():
    with pytest.raises(ConversionError, match="no mapping"):
        convert_state_dict(reference_state_dict("mbv2", device="meta"), "rf_lw50")
    with pytest.raises(ConversionError, match="no converter"):
        convert_state_dict({}, "deeplabv3")


@pytest.mark.parametrize("wrapper", ["bare", "segmenter", "model", "state_dict"])
def test_wrapped_checkpoints_convert_and_keep_the_values(tmp_path, wrapper):
    state = reference_state_dict("mbv2")
    saved = state if wrapper == "bare" else {wrapper: {f"module.{k}": v for k, v in state.items()}, "epoch": 9}
    torch.save(saved, tmp_path / "ckpt.pth.tar")
    model = convert_checkpoint(tmp_path / "ckpt.pth.tar", arch="mbv2", output=tmp_path / "out.safetensors")
    assert model.num_classes == 21 and not model.training
    assert torch.equal(model.encoder.stages[2][1].depthwise[1].running_var, state["layer4.1.output.1.1.running_var"])
    assert torch.equal(model.decoder.blocks[1].fusion.convs[2].weight, state["conv_adapt4.weight"])
    assert torch.equal(model.head.classifier.bias, state["segm.bias"])
    loaded = refineseg.load_model(tmp_path / "out.safetensors")
    assert loaded.meta.provenance["source_arch"] == "mbv2"
    x = torch.randn(1, 3, 45, 61)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_class_count_is_checked(tmp_path):
    torch.save(reference_state_dict("mbv2"), tmp_path / "c.pth")
    with pytest.raises(ConversionError, match="21 classes, not 11"):
        convert_checkpoint(tmp_path / "c.pth", arch="mbv2", num_classes=11)


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-checkpoint",))


def test_pickles_that_would_run_code_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"model": _RunsCode()}, f)
    torch.save({"model": {"w": torch.zeros(1)}, "payload": _RunsCode()}, tmp_path / "evil2.pth")
    for p in (path, tmp_path / "evil2.pth"):
        with pytest.raises(ConversionError, match="refused to load"):
            load_reference_checkpoint(p)
    assert not (tmp_path / "pwned-by-checkpoint").exists()


def test_non_checkpoints_are_errors(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(ConversionError, match="not a readable PyTorch checkpoint"):
        load_reference_checkpoint(text)
    with pytest.raises(ConversionError, match="no such checkpoint"):
        load_reference_checkpoint(tmp_path / "absent.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ConversionError, match="expected a state dict"):
        load_reference_checkpoint(tmp_path / "list.pth")


# -- values, not just keys: the converted model against logits the reference code computed ---------

REFERENCE_LOGITS = DATA / "reference_logits_mbv2.pt"  # written by tests/data/make_reference_logits.py
# max |diff| / max |reference logit|. The file was written on 2 threads, where the converted model
# matches it exactly; on 1 thread (another fp32 summation order) it is off by 4e-5. Any swap of two
# same-shaped tensors or modules moves it by more than 0.1 or makes it NaN, which fails as well
# (checked over all 239 adjacent same-shaped tensor pairs and 83 same-shaped module pairs).
LOGITS_TOLERANCE = 1e-3


def _relative_difference_to_reference(checkpoint, reference: dict) -> float:
    """Convert ``checkpoint`` (an mbv2 reference state dict) and compare its logits with the stored ones."""
    model = convert_checkpoint(checkpoint, arch="mbv2")
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x.flatten()[:16], reference["input_head"]), "torch's seeded random numbers changed"
    with torch.no_grad():
        logits = model(x)  # upsampled to the input size, as the stored reference logits were
    assert logits.shape == (1, 21, 64, 64)
    pooled = F.avg_pool2d(logits, 4)  # the same summary make_reference_logits.py stores
    sampled = logits[..., 1::8, 3::8]
    diff = max((pooled - reference["pooled"]).abs().max().item(), (sampled - reference["sampled"]).abs().max().item())
    return diff / reference["max_abs"].item()


def test_converted_mbv2_reproduces_the_reference_implementations_logits(tmp_path):
    """Keys and shapes alone would pass a converter that swaps two same-shaped modules; values do not.

    The stored logits come from DrSleep/light-weight-refinenet's own ``mbv2`` with the same seeded
    weights (see tests/data/make_reference_logits.py), not from refineseg.
    """
    reference = torch.load(REFERENCE_LOGITS, weights_only=True)
    state = conditioned_reference_state_dict("mbv2", seed=0)
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "mbv2.pth.tar")
    rel = _relative_difference_to_reference(tmp_path / "mbv2.pth.tar", reference)
    assert rel <= LOGITS_TOLERANCE, f"converted mbv2 differs from the reference by {rel:.2e} of its largest logit"

    # the comparison has teeth: a table that mixed up two same-shaped modules is caught, in the
    # decoder (two 256->256 adapters) and in the encoder (two blocks' expansion convs)
    for a, b in [("conv_adapt3", "conv_adapt2"), ("layer5.1.output.0.0", "layer5.2.output.0.0")]:
        swapped = dict(state)
        swapped[f"{a}.weight"], swapped[f"{b}.weight"] = state[f"{b}.weight"], state[f"{a}.weight"]
        torch.save(swapped, tmp_path / "swapped.pth")
        rel = _relative_difference_to_reference(tmp_path / "swapped.pth", reference)
        assert not rel <= LOGITS_TOLERANCE, f"swapping {a} and {b} went unnoticed ({rel:.2e})"
