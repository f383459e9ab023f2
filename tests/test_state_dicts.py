"""``refineseg.state_dicts``: one safe reader for encoder weights and reference checkpoints."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from refineseg.backbones import load_state_dict_file
from refineseg.state_dicts import StateDictError, read_state_dict


def test_wrapped_pickles_and_safetensors_give_the_same_tensors(tmp_path):
    state = {"a.weight": torch.arange(6.0).view(2, 3), "b.bias": torch.ones(2)}
    torch.save({"model": {"state_dict": state}}, tmp_path / "wrapped.pth")
    save_file(state, tmp_path / "plain.safetensors")
    for name in ("wrapped.pth", "plain.safetensors"):
        got = read_state_dict(tmp_path / name)
        assert got.keys() == state.keys() and all(torch.equal(got[k], state[k]) for k in state)
    # the encoders read through it too
    assert torch.equal(load_state_dict_file(tmp_path / "wrapped.pth")["a.weight"], state["a.weight"])


class _Payload:
    """An object a pickle would rebuild by importing and calling this module's code."""


def test_files_that_could_run_code_or_hold_no_state_dict_are_refused(tmp_path):
    torch.save({"w": torch.zeros(1), "extra": _Payload()}, tmp_path / "code.pth")
    with pytest.raises(
        StateDictError,
        match=r"refused to load: not a plain state dict of tensors \(it calls tests\.test_state_dicts\._Payload",
    ):
        read_state_dict(tmp_path / "code.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(StateDictError, match="expected a state dict of tensors"):
        load_state_dict_file(tmp_path / "list.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(StateDictError, match=r"text\.pth: refused to load: not a plain state dict"):
        read_state_dict(tmp_path / "text.pth", what="checkpoint")
    with pytest.raises(FileNotFoundError, match=r"absent\.pth: no such weights file"):
        read_state_dict(tmp_path / "absent.pth")
