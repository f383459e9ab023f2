import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _auto_backend_fixed():
    # --backend auto (the default) would export and time every test's model once per precision when
    # OpenVINO is installed; tests run the default runtime unless they ask for another (subprocesses
    # too). Session-wide, so that module-scoped models and servers are made under it as well.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFINESEG_AUTO_BACKEND", "default")
        yield


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path_factory):
    # refineseg's cache (int8 models, converted weights) goes to the test run's folder, never ~/.cache
    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path_factory.getbasetemp() / "refineseg_home"))


# test_models.py's model contract (TestModelContract) runs for every builder and variant in the
# slow tier (`pytest -m slow`). The fast tier runs it for the default RefineNet and LW-RefineNet on
# the smallest member of each encoder family, whose code the others share: ResNet-18 (not 34 to
# 152), EfficientNet-Lite0 (not Lite1, Lite2), MobileNet-v2 (both), timm via resnet18; not the
# cascade, CRP and two-scale variants of RefineNet-ResNet-18, whose structure test_models checks in
# the fast tier too. Its torch.export test runs there for the shipped architecture and LW-MobileNet-v2.
# Measured on 2 loaded cores on 2026-12-06, the cases moved took 1,452 of the whole suite's 2,937 s
# (the README's test commands say what each tier takes).
VARIANTS = ("cascade=single", "cascade=2-cascade", "image_scales=(1.2, 0.6)", "crp_order=conv-pool-crp_stages=2")
SLOW_MODEL_CASES = frozenset(
    [f"{prefix}refinenet_resnet{depth}" for prefix in ("", "lw_") for depth in (34, 50, 101, 152)]
    + [f"{prefix}refinenet_efficientnet_lite{size}" for prefix in ("", "lw_") for size in (1, 2)]
    + ["refinenet_timm-model_name=mobilenetv3_small_100"]
    + [f"refinenet_resnet18-{variant}" for variant in VARIANTS]
)
FAST_EXPORT_CASES = frozenset(["refinenet_efficientnet_lite0", "lw_refinenet_mobilenet_v2"])


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name != "test_models.py" or not hasattr(item, "callspec") or "case" not in item.callspec.params:
            continue
        name, options = item.callspec.params["case"]
        case = name + "".join(f"-{key}={value}" for key, value in options.items())  # test_models' ids
        export = item.originalname == "test_export_with_dynamic_size_matches_eager"
        if case in SLOW_MODEL_CASES or (export and case not in FAST_EXPORT_CASES):
            item.add_marker(pytest.mark.slow)
