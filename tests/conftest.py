import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path_factory):
    # refineseg's cache (int8 models, converted weights) goes to the test run's folder, never ~/.cache
    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path_factory.getbasetemp() / "refineseg_home"))
