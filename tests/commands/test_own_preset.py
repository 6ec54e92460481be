"""A researcher's own preset, kept outside the repository: each mistake one is likely to make in it
stops `afuse run` / `afuse status` before any job starts, with one line naming the preset file,
the key and what is valid (exit 2), and nothing written."""

import copy

import pytest
import yaml

from tests.commands import afuse_exit_code

# The smallest preset with every kind of entry: two stage-1 groups, a Fusion group, a report.
MINE = {
    "defaults": [{"override /model": "tiny"}],
    "experiment": {
        "name": "mine",
        "tasks": ["rte", "cb"],
        "seeds": [1, 2],
        "stage1": {
            "st_a": {"command": "train-adapter", "overrides": ["adapter=pfeiffer", "trainer.lr=1e-3"]},
            "head": {"command": "finetune", "overrides": ["mode=head"]},
        },
        "stage2": {"fusion": {"sources": "st_a", "overrides": ["fusion=dynamic"]}},
        "report": {
            "columns": {"Head": "head", "ST-A": "st_a", "Fusion": "fusion"},
            "comparisons": [["Fusion", "ST-A"]],
        },
    },
}


def _set(path: str, value):
    """An edit of MINE: set the dotted `path` (of `experiment`) to `value`; None deletes it."""

    def edit(preset: dict) -> None:
        *parents, key = path.split(".")
        node = preset["experiment"]
        for parent in parents:
            node = node[parent]
        if value is None:
            del node[key]
        else:
            node[key] = value

    return edit


def _rename_key(path: str, new: str):
    def edit(preset: dict) -> None:
        *parents, key = path.split(".")
        node = preset["experiment"]
        for parent in parents:
            node = node[parent]
        node[new] = node.pop(key)

    return edit


BAD = {
    # a misspelt key at each level
    "experiment_key": (
        _rename_key("seeds", "seed"),
        "experiment: unknown key(s) seed; valid: description, name",
    ),
    "stage_key": (_rename_key("stage1", "stage_1"), "experiment: unknown key(s) stage_1; valid:"),
    "stage1_key": (
        _rename_key("stage1.st_a.overrides", "overides"),
        "experiment.stage1.st_a: unknown key(s) overides",
    ),
    "stage2_key": (_set("stage2.fusion.target", ["rte"]), "experiment.stage2.fusion: unknown key(s) target"),
    "report_key": (
        _rename_key("report.columns", "column"),
        "experiment.report: unknown key(s) column; valid:",
    ),
    # names that point nowhere
    "column_group": (
        _set("report.columns.ST-A", "st-a"),
        "experiment.report.columns.ST-A: 'st-a' is not a job group of column_group; groups: st_a head fusion",
    ),
    "comparison_column": (
        _set("report.comparisons", [["Fusion", "STA"]]),
        "experiment.report.comparisons: ['Fusion', 'STA'] must be [fusion column, baseline column]",
    ),
    # a stage-1 column first was drawn as "Fusion compared to its baselines"
    "comparison_order": (
        _set("report.comparisons", [["ST-A", "Fusion"]]),
        "experiment.report.comparisons: ['ST-A', 'Fusion'] must start with a Fusion column compared to "
        "another column; Fusion columns: ['Fusion']",
    ),
    "paper_table": (
        _set("report.paper_table", "table9"),
        "experiment.report.paper_table: 'table9' is not one of",
    ),
    "sources": (
        _set("stage2.fusion.sources", "st_aa"),
        "experiment.stage2.fusion.sources: 'st_aa' is not a stage-1",
    ),
    "task": (_set("tasks", ["rte", "cbb"]), "experiment.tasks: unknown task 'cbb'; valid tasks:"),
    "override_key": (_set("stage1.st_a.overrides", ["trainer.lrr=1e-3"]), "did you mean trainer.lr?"),
    "override_option": (
        _set("stage1.st_a.overrides", ["adapter=pfeifer"]),
        "experiment.stage1.st_a.overrides: adapter=pfeifer: no such option; options: houlsby pfeiffer",
    ),
    # values a job would refuse only once it starts (model=tiny has hidden size 32)
    "bottleneck": (
        _set("stage1.st_a.overrides", ["adapter.reduction_factor=64"]),
        "experiment.stage1.st_a: adapter.reduction_factor=64 leaves a bottleneck of 32/64 < 1 unit",
    ),
    "lr": (
        _set("stage2.fusion.overrides", ["trainer.lr=-1"]),
        "experiment.stage2.fusion: trainer.lr must be > 0",
    ),
    # a group's own run tree: its jobs would write where status and the report never look
    "group_paths": (
        _set("stage1.head.overrides", ["mode=head", "paths.runs=/elsewhere"]),
        "experiment.stage1.head.overrides: 'paths.runs=/elsewhere': a preset's runs share one tree",
    ),
    # wrong shapes
    "seeds_string": (_set("seeds", "1,2"), "experiment.seeds: expected a list of integer seeds"),
    "empty_group": (
        _set("stage1.head", {}),
        "experiment.stage1.head.command: missing; one of: train-adapter",
    ),
    "stage2_list": (
        _set("stage2", [{"sources": "st_a"}]),
        "experiment.stage2: expected a mapping of group name",
    ),
    "columns_list": (
        _set("report.columns", ["st_a", "head"]),
        "experiment.report.columns: expected a mapping",
    ),
    # two groups whose runs would overwrite each other's
    "same_runs": (
        _set("stage1.st_a_fast", {"command": "train-adapter", "overrides": ["trainer.lr=1e-2"]}),
        "experiment.stage1.st_a_fast: writes the run directories of experiment.stage1.st_a",
    ),
    # the preset's own name
    "no_name": (_set("name", None), "experiment.name is missing; set it to no_name"),
    "other_name": (_set("name", "other"), "experiment.name is 'other', but the file is other_name.yaml"),
}


@pytest.fixture
def conf(tmp_path):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    return tmp_path / "conf"


def _write_preset(conf, name: str, edit=None) -> str:
    preset = copy.deepcopy(MINE)
    preset["experiment"]["name"] = name
    if edit:
        edit(preset)
    path = conf / "experiment" / f"{name}.yaml"
    path.write_text("# @package _global_\n" + yaml.safe_dump(preset, sort_keys=False))
    return str(path)


def _afuse(command: str, name: str, tmp_path, conf, *extra: str) -> int:
    return afuse_exit_code(
        command,
        *extra,
        f"experiment={name}",
        f"hydra.searchpath=[file://{conf}]",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
        f"paths.data={tmp_path}/data",
        f"paths.logs={tmp_path}/logs",
        "data.source=local",
    )


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_mistake_in_an_own_preset_is_one_line_naming_file_and_key(case, conf, tmp_path, capsys):
    # dry_run: the plan is checked as a run checks it, and a mistake let through starts no job here
    edit, message = BAD[case]
    path = _write_preset(conf, case, edit)
    capsys.readouterr()
    assert _afuse("run", case, tmp_path, conf, "dry_run=true") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    assert f"{path}: " in errors[0] and message in errors[0], errors[0]


def test_a_bad_report_section_stops_afuse_run_before_any_job(conf, tmp_path, capsys):
    """It used to surface only in the report step, after every job had trained."""
    edit, message = BAD["column_group"]
    _write_preset(conf, "column_group", edit)
    assert _afuse("run", "column_group", tmp_path, conf, "data.raw_dir=/nonexistent") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize("command", ["status", "report"])
@pytest.mark.parametrize("case", ["report_key", "column_group", "same_runs"])
def test_afuse_status_and_report_refuse_the_same_mistakes(command, case, conf, tmp_path, capsys):
    """`afuse status` is how a researcher checks a new preset: it must not call it fine; nor
    may `afuse report` say "nothing to report yet" about a preset whose report cannot be built."""
    edit, message = BAD[case]
    _write_preset(conf, case, edit)
    capsys.readouterr()
    assert _afuse(command, case, tmp_path, conf) == 2
    assert message in capsys.readouterr().err


def test_the_preset_as_written_is_accepted(conf, tmp_path, capsys):
    _write_preset(conf, "mine")
    assert _afuse("status", "mine", tmp_path, conf) == 0
    out = capsys.readouterr().out
    # 2 tasks x 2 seeds for each stage-1 group; Fusion over st_a's tasks, for each of them
    assert "total " in out and " 12 " in out.split("total ")[1].split("\n")[0]


def test_a_fusion_target_outside_its_sources_is_allowed(conf, tmp_path, capsys):
    """Fusion of other tasks' adapters for a new task is a choice (`afuse fuse fusion.sources=...`)."""
    _write_preset(conf, "mine", _set("stage2.fusion.targets", ["mrpc"]))
    assert _afuse("status", "mine", tmp_path, conf) == 0


def test_an_unknown_preset_says_where_own_presets_go(tmp_path, capsys):
    assert afuse_exit_code("status", "experiment=nosuch", f"paths.logs={tmp_path}/logs") == 2
    assert "hydra.searchpath=[file:///<dir>] for its <dir>/experiment/nosuch.yaml" in capsys.readouterr().err


def test_afuse_list_presets_lists_the_others_and_says_what_is_wrong_with_a_broken_one(conf, tmp_path, capsys):
    """One preset with a mistake made `afuse list presets` fail for all of them."""
    _write_preset(conf, "mine")
    broken = _write_preset(conf, "broken", BAD["bottleneck"][0])
    code = afuse_exit_code(
        "list", "presets", f"hydra.searchpath=[file://{conf}]", f"paths.logs={tmp_path}/logs"
    )
    out = capsys.readouterr().out
    assert code == 0
    assert any(line.split()[:2] == ["mine", "tiny"] for line in out.splitlines()), out
    assert f"not listed: {broken}: experiment.stage1.st_a: adapter.reduction_factor=64" in out, out
    assert "paper_table1" in out


@pytest.mark.parametrize("entry", ["file://{conf}", "{conf}"], ids=["file", "plain"])
def test_afuse_list_presets_reads_a_search_path_entry_as_hydra_does(entry, conf, tmp_path, capsys):
    """Hydra reads `[/my/conf]` (no scheme) as a folder, and `afuse run experiment=mine` ran from
    it, but `afuse list presets` looked at file:// entries only and left the preset out."""
    _write_preset(conf, "mine")
    searchpath = "hydra.searchpath=[" + entry.format(conf=conf) + "]"
    assert afuse_exit_code("list", "presets", searchpath, f"paths.logs={tmp_path}/logs") == 0
    assert any(line.split()[:2] == ["mine", "tiny"] for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("command", ["status", "run", "train-adapter", "list"])
@pytest.mark.parametrize("folder", ["file://{tmp}/nosuch", "file:/{tmp}/conf"], ids=["typo", "two_slashes"])
def test_a_search_path_folder_that_is_not_there_is_refused(command, folder, conf, tmp_path, capsys):
    """Hydra skipped it without a word, and the command then told a researcher who had given a
    search path to add one: `unknown experiment 'mine' (... add hydra.searchpath=...)`."""
    _write_preset(conf, "mine")
    searchpath = (
        "hydra.searchpath=[" + folder.format(tmp=tmp_path) + "]"
    )  # file:/ + /tmp/... = file://tmp/...
    code = afuse_exit_code(command, "experiment=mine", searchpath, f"paths.logs={tmp_path}/logs")
    err = capsys.readouterr().err
    assert code == 2
    assert "is not a folder here" in err and "e.g. hydra.searchpath=[file:///my/conf]" in err
    assert len(err.strip().splitlines()) == 1


def _as_text(preset: dict) -> str:
    return "# @package _global_\n" + yaml.safe_dump(preset, sort_keys=False)


FILE_MISTAKES = {
    # without the header Hydra puts the whole file under `experiment:` (its own error was a
    # Hydra "Could not override 'model@experiment.model'" with no word of the header)
    "no_header": (
        lambda text: text.replace("# @package _global_\n", ""),
        "its first line must be `# @package _global_`",
    ),
    "bad_yaml": (lambda text: text.replace("- rte\n", "- [rte\n", 1), "not valid YAML"),  # was a traceback
    "plain_model": (
        lambda text: text.replace("override /model: tiny", "model: tiny"),
        "defaults: `- model: tiny` must be `- override /model: tiny`",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_MISTAKES))
def test_a_preset_file_hydra_cannot_read_is_one_line_naming_it(case, conf, tmp_path, capsys):
    edit, message = FILE_MISTAKES[case]
    preset = copy.deepcopy(MINE)
    preset["experiment"]["name"] = case
    path = conf / "experiment" / f"{case}.yaml"
    path.write_text(edit(_as_text(preset)))
    capsys.readouterr()
    assert _afuse("status", case, tmp_path, conf) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1 and f"{path}: " in errors[0] and message in errors[0], errors
