"""Everything chosen by name is kept in a refineseg._registry.Registry, which refuses a second entry
under a name (a plug-in would otherwise silently replace a dataset, a loss, a reader or weights)."""

from __future__ import annotations

import importlib

import pytest

from refineseg._registry import Registry

# module, registry attribute, a name it holds; the models' registry is tested in test_models
REGISTRIES = [
    ("refineseg.models.registry", "_BUILDERS", "refinenet_resnet18", "model"),
    ("refineseg.data.registry", "_DATASETS", "camvid", "dataset"),
    ("refineseg.data.importers", "_READERS", "coco", "annotation format"),
    ("refineseg.training.losses", "_LOSSES", "ce", "loss"),
    ("refineseg.weights.catalogue", "CATALOGUE", "camvid", "weights entry"),
]


@pytest.mark.parametrize(("module", "attribute", "name", "kind"), REGISTRIES, ids=[r[1] for r in REGISTRIES])
def test_a_second_entry_under_a_taken_name_is_refused(module, attribute, name, kind):
    registry = getattr(importlib.import_module(module), attribute)
    assert isinstance(registry, Registry) and name in registry
    before = registry.get(name)
    article = "an" if kind[0] in "aeiou" else "a"
    with pytest.raises(ValueError, match=f"^{article} {kind} named '{name}' is already registered$"):
        registry.add(name, object())
    assert registry.get(name) is before


def test_a_second_dataset_registered_by_its_decorator_is_refused():
    from refineseg.data import get_dataset, list_datasets, register_dataset

    def camvid(root, split, **kwargs):  # a plug-in that would silently replace the built-in CamVid
        raise AssertionError("never called")

    names = [d.name for d in list_datasets()]
    with pytest.raises(ValueError, match="a dataset named 'camvid' is already registered"):
        register_dataset("camvid", splits=("train",), description="another CamVid")(camvid)
    assert [d.name for d in list_datasets()] == names
    with pytest.raises(ValueError, match="unknown dataset 'camvdi'; available: ade20k, camvid, "):
        get_dataset("camvdi", ".", "train")


def test_the_registry_keeps_order_and_names_what_is_missing():
    registry: Registry[int] = Registry("thing")
    registry.add("b", 2)
    registry.add("a", 1)
    assert list(registry) == ["b", "a"] and registry.entries() == [2, 1] and len(registry) == 2
    assert registry.names() == ["a", "b"]
    with pytest.raises(ValueError, match=r"^unknown thing 'c'; available: a, b$"):
        registry.get("c")
