"""Every value a command acts on is checked before any work, naming the key and a valid value.

Each case here was accepted before: a typed-in `maybe` read as true (force, with_encoder), a
string that crashed with a traceback (data.max_test_examples=abc), one that crashed only after
training had finished (fusion.prune_below=abc), an empty fusion.sources that fused all 16 tasks,
or a value first checked after the run directory was written (data.source, trainer.cpu_isa).
"""

import pytest
from omegaconf import OmegaConf

from afuse.errors import ConfigError
from afuse.validate import validate

REFUSED = [
    ({"force": "maybe"}, "force must be true or false (got 'maybe'); e.g. force=true"),
    ({"save_encoder": 1}, "save_encoder must be true or false (got 1); e.g. save_encoder=true"),
    ({"with_encoder": "yes"}, "with_encoder must be true, false or null (got 'yes'); e.g. with_encoder=true"),
    ({"dry_run": "no"}, "dry_run must be true or false (got 'no'); e.g. dry_run=true"),
    ({"fusion": {"skip_last_layer": "maybe"}}, "fusion.skip_last_layer must be true or false"),
    ({"trainer": {"amp": "maybe"}}, "trainer.amp must be auto, true or false (got 'maybe'); e.g. trainer.amp=auto"),
    ({"trainer": {"progress_bar": "xx"}}, "trainer.progress_bar must be auto, true or false"),
    ({"progress_bar": "xx"}, "progress_bar must be auto, true or false"),
    ({"trainer": {"num_threads": 0}}, "trainer.num_threads must be an integer >= 1 or null (got 0)"),
    ({"num_threads": "two"}, "num_threads must be an integer >= 1 or null (got 'two')"),
    # evaluate's split= was first checked after the run's model was loaded
    ({"split": "dev"}, "split must be one of test, validation, train or null (got 'dev'); e.g. split=validation"),
    ({"trainer": {"cpu_isa": "foo"}}, "trainer.cpu_isa must be one of avx2, avx512 or null (got 'foo')"),
    ({"data": {"source": "hubb"}}, "data.source must be one of hub, local (got 'hubb'); e.g. data.source=local"),
    ({"data": {"max_test_examples": "abc"}}, "data.max_test_examples must be an integer >= 1 or null (got 'abc')"),
    ({"data": {"max_test_examples": 0}}, "data.max_test_examples must be an integer >= 1 or null (got 0)"),
    ({"data": {"validation_max_examples": 0}}, "data.validation_max_examples must be an integer >= 1 (got 0)"),
    ({"fusion": {"source_seed": "abc"}}, "fusion.source_seed must be an integer >= 0 or null (got 'abc')"),
    ({"fusion": {"kind": "dynamc"}}, "fusion.kind must be one of dynamic, static (got 'dynamc')"),
    ({"fusion": {"prune_below": "abc"}}, "fusion.prune_below must be a number in [0, 1], a list of them, or null"),
    ({"fusion": {"prune_below": [0.1, 2]}}, "fusion.prune_below must be a number in [0, 1], a list of them, or null"),
    ({"fusion": {"keep_top_k": 0}}, "fusion.keep_top_k must be an integer >= 1, a list of them, or null (got 0)"),
    ({"fusion": {"keep_top_k": "abc"}}, "fusion.keep_top_k must be an integer >= 1, a list of them, or null"),
    ({"fusion": {"sources": []}}, "fusion.sources must be a non-empty list of task names or adapter directories"),
    ({"sampling": "foo"}, "sampling must be one of anneal, prop, sqrt, uniform (got 'foo')"),
    ({"status": {"all": "maybe"}}, "status.all must be true or false (got 'maybe'); e.g. status.all=true"),
    ({"report": {"heatmaps": "maybe"}}, "report.heatmaps must be true or false"),
    ({"report": {"same_tolerance": -1}}, "report.same_tolerance must be >= 0 (got -1); e.g. report.same_tolerance=0.3"),
    ({"report": {"heatmap_formats": ["jpg"]}}, "report.heatmap_formats must be a non-empty list of png, pdf (got ['jpg']); e.g. report.heatmap_formats=[png,pdf]"),
    ({"report": {"heatmap_formats": "png"}}, "report.heatmap_formats must be a non-empty list of png, pdf (got 'png')"),
    ({"report": {"annotate_max_cells": "abc"}}, "report.annotate_max_cells must be an integer >= 0 (got 'abc')"),
    ({"device": "gpu"}, "device='gpu' is not a device; valid: auto, cpu, cuda, cuda:<n>, mps"),  # evaluate, predict
    ({"seed": -1}, "seed must be an integer >= 0 (got -1); e.g. seed=1"),
    ({"data": {"split_seed": -3}}, "data.split_seed must be an integer >= 0 (got -3)"),
    ({"fusion": {"source_seed": -1}}, "fusion.source_seed must be an integer >= 0 or null (got -1)"),
    ({"paths": {"runs": ""}}, "paths.runs must be a directory path (got ''); e.g. paths.runs=runs"),
    ({"tasks": "rte"}, "tasks must be a non-empty list of task names (got 'rte'); e.g. tasks=[rte,cb]"),
]  # fmt: skip

ACCEPTED = [
    {"force": True, "save_encoder": False, "dry_run": False, "fusion": {"skip_last_layer": True}},
    {"trainer": {"amp": "auto", "progress_bar": False, "num_threads": None, "cpu_isa": None}},
    {"trainer": {"amp": True, "progress_bar": "auto", "num_threads": 2, "cpu_isa": "avx2"}},
    {"data": {"source": "local", "max_test_examples": None, "validation_max_examples": 200}},
    {"fusion": {"source_seed": None, "kind": "static", "prune_below": [0.05, 0.1], "keep_top_k": 3}},
    {"fusion": {"source_seed": 1, "prune_below": 0.05, "keep_top_k": [1, 3], "sources": ["rte"]}},
    {
        "status": {"all": True},
        "report": {
            "heatmaps": False,
            "same_tolerance": 0,
            "heatmap_formats": ["png"],
            "annotate_max_cells": 0,
        },
    },
    {"seed": 0, "data": {"split_seed": 0}, "paths": {"runs": "/tmp/x", "data": "data"}},
    {"sampling": "anneal", "tasks": ["rte", "cb"], "progress_bar": "auto", "num_threads": None},
    {"split": "train"},
    {"split": None},
]


@pytest.mark.parametrize(("values", "message"), REFUSED, ids=[m.split(" ")[0] for _, m in REFUSED])
def test_a_bad_value_is_refused_naming_its_key(values, message):
    with pytest.raises(ConfigError) as error:
        validate(OmegaConf.create(values))
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("values", ACCEPTED)
def test_valid_values_pass(values):
    validate(OmegaConf.create(values))


def test_the_heatmap_formats_are_those_the_report_saves():
    from afuse.report.heatmaps import SAVE_METADATA
    from afuse.validate import HEATMAP_FORMATS

    assert set(HEATMAP_FORMATS) == set(SAVE_METADATA)
