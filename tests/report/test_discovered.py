"""`afuse list runs`, `afuse status` and `afuse report` without a preset: whatever runs a
paths.runs tree holds, grouped by model and variant."""

import pandas as pd
import pytest
from omegaconf import OmegaConf

from afuse.catalog import find_runs
from afuse.commands.listing import runs_text
from afuse.commands.status import damaged_reasons
from afuse.discovered import discovered_experiment, status_text
from afuse.errors import ConfigError, MissingInputError
from afuse.report.collect import expected_runs, read_accuracies
from afuse.report.layout import report_layout
from afuse.run_identity import multitask_dir, stage1_dir, stage2_dir
from tests.synthetic import write_multitask_run, write_run


def tree(root):
    runs = root / "runs"
    for seed, accuracy in ((1, 0.6), (2, 0.7)):
        write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "rte", seed), accuracy, kind="st_a")
    write_run(stage1_dir(runs, "tiny", "head", "rte", 1), 0.55, kind="head")
    write_run(stage1_dir(runs, "minilm", "pfeiffer_rf16", "cb", 1), 0.8, kind="st_a")
    write_run(stage2_dir(runs, "tiny", "dynamic_pfeiffer_rf16", "rte", 1), 0.75, kind="fusion")
    write_multitask_run(multitask_dir(runs, "tiny", "rte-cb", 1), {"rte": 0.52, "cb": 0.7})
    write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "cb", 1), None)  # incomplete
    damaged = write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "cb", 2), 0.5)
    (damaged / "metrics.json").write_text("{half written")
    for metrics in runs.rglob("metrics.json"):
        (metrics.parent / "config.yaml").write_text("seed: 1\n")
    return OmegaConf.create({"paths": {"runs": str(runs)}})


def test_find_runs_gives_each_run_its_state(tmp_path):
    cfg = tree(tmp_path)
    states = {(r.model, r.variant, r.task, r.seed): r.state for r in find_runs(cfg.paths.runs)}
    assert states[("tiny", "pfeiffer_rf16", "cb", 1)] == "incomplete"
    assert states[("tiny", "pfeiffer_rf16", "cb", 2)] == "damaged"
    assert sum(s == "done" for s in states.values()) == 6
    listing = runs_text(cfg)
    assert listing.startswith(f"8 runs under {cfg.paths.runs}: 6 done, 1 incomplete, 1 damaged")
    assert "rte 0.5200 cb 0.7000" in listing  # the MT-A run: one accuracy per task


def test_report_columns_are_model_and_variant_with_tasks_as_rows(tmp_path):
    cfg = tree(tmp_path)
    experiment = discovered_experiment(cfg)
    layout = report_layout(experiment)
    assert [c.label for c in layout.columns] == [
        "minilm/pfeiffer_rf16",
        "tiny/head",
        "tiny/mt_a/rte-cb",
        "tiny/pfeiffer_rf16",
        "tiny/dynamic_pfeiffer_rf16",
    ]
    damaged = frozenset(damaged_reasons(experiment, preset=False))  # read by no table: left out, marked
    accuracies = read_accuracies(expected_runs(layout), unread=damaged).dropna(subset=["accuracy"])
    by_cell = accuracies.groupby(["column", "task"]).accuracy.mean()
    assert by_cell[("tiny/pfeiffer_rf16", "rte")] == pytest.approx(65.0)
    assert by_cell[("tiny/mt_a/rte-cb", "cb")] == pytest.approx(70.0)
    assert len(accuracies) == 7  # finished runs only: MT-A counts once per task


def test_status_counts_runs_per_variant_and_lists_those_not_done(tmp_path):
    cfg = tree(tmp_path)
    text = status_text(cfg)
    assert "stage1  tiny    pfeiffer_rf16" in text
    lines = [line for line in text.splitlines() if line.startswith(("incomplete", "damaged"))]
    assert len(lines) == 2 and all("pfeiffer_rf16  cb" in line for line in lines)


def test_report_command_writes_the_tables(tmp_path):
    from afuse.cli import main

    tree(tmp_path)
    paths = [
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
        f"paths.logs={tmp_path}/logs",
    ]
    main(["report", *paths, "report.heatmaps=false"])
    table = pd.read_csv(tmp_path / "results" / "runs" / "accuracy.csv")
    assert "tiny/dynamic_pfeiffer_rf16" in " ".join(map(str, table.columns))
    page = (tmp_path / "results" / "runs" / "report.md").read_text()
    # there is no preset named after the runs folder: the page names the command that wrote it
    assert f"Written by `afuse report paths.runs={tmp_path}/runs`" in page
    assert f"`afuse status paths.runs={tmp_path}/runs` lists" in page
    assert "experiment=runs" not in page


@pytest.mark.parametrize(
    ("name", "content", "damage"),
    [
        ("head.safetensors", b"\x10\x00", "head.safetensors:"),  # a safetensors file cut short
        ("config.yaml", b"seed: 1\ntask: [cb", "config.yaml: not readable YAML"),
        ("metrics.json", b'{"test": {}}', "metrics.json: no test accuracy"),
    ],
)
def test_a_run_whose_result_does_not_read_is_damaged_not_done(name, content, damage, tmp_path):
    # `afuse list runs` / `afuse status` without a preset must agree with a preset's status and
    # with the skip check (afuse.result_check): a run that does not read is not done.
    run = write_run(stage1_dir(tmp_path / "runs", "tiny", "pfeiffer_rf16", "rte", 1), 0.6, kind="st_a")
    (run / "config.yaml").write_text("seed: 1\n")
    (run / name).write_bytes(content)
    [found] = find_runs(tmp_path / "runs")
    assert found.state == "damaged" and damage in found.note and "force=true" in found.note


def test_a_runs_tree_named_like_a_preset_does_not_take_that_presets_report_folder(tmp_path):
    # `afuse report paths.runs=runs/paper_table1` (no preset) must not replace the files of
    # `afuse report experiment=paper_table1` in results/paper_table1/ (the presets keep their
    # runs in runs/<preset>).
    for runs in (tmp_path / "runs" / "paper_table1", tmp_path / "runs"):
        run = write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "rte", 1), 0.6, kind="st_a")
        (run / "config.yaml").write_text("seed: 1\n")
    named = OmegaConf.create({"paths": {"runs": str(tmp_path / "runs" / "paper_table1")}})
    assert discovered_experiment(named).name == "paper_table1-all-runs"
    plain = OmegaConf.create({"paths": {"runs": str(tmp_path / "runs")}})
    assert discovered_experiment(plain).name == "runs"


def test_status_points_at_the_report_only_when_a_run_is_finished(tmp_path):
    """With nothing finished it said `afuse report ...` tabulates the finished ones; the report
    then only says there is nothing to report yet."""
    runs = tmp_path / "runs"
    write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "cb", 1), None)  # incomplete
    cfg = OmegaConf.create({"paths": {"runs": str(runs)}})
    assert "afuse report" not in status_text(cfg)
    done = write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "rte", 1), 0.6, kind="st_a")
    (done / "config.yaml").write_text("seed: 1\n")
    assert f"`afuse report paths.runs={runs}` tabulates the finished ones" in status_text(cfg)


def test_no_runs_under_paths_runs_says_where_the_runs_are(tmp_path):
    """After `make demo` the runs are in runs/cpu_small/ (a preset keeps its own tree); plain
    `afuse list runs` / `status` / `report` looked in runs/ and said only that it holds none.
    A path inside a runs tree (runs/stage1/tiny) got the same answer."""

    preset_tree = tmp_path / "runs" / "cpu_small"
    write_run(stage1_dir(preset_tree, "tiny", "pfeiffer_rf16", "rte", 1), 0.6, kind="st_a")
    top = OmegaConf.create({"paths": {"runs": str(tmp_path / "runs")}})
    for text in (runs_text(top), status_text(top)):
        assert f"runs trees inside it: {preset_tree}" in text, text
    with pytest.raises(MissingInputError, match=f"runs trees inside it: {preset_tree}"):
        discovered_experiment(top)

    inside = OmegaConf.create({"paths": {"runs": str(preset_tree / "stage1" / "tiny")}})
    assert f"inside the runs tree {preset_tree}: use paths.runs={preset_tree}" in runs_text(inside)


def test_an_explicit_paths_runs_that_does_not_exist_is_a_user_error(tmp_path):
    """`afuse list runs paths.runs=/nonexistent` printed "no such directory" and exited 0, as if
    the tree were merely empty: a mistyped path is the user's error (ConfigError: exit 2)."""
    for given in (tmp_path / "nowhere", tmp_path / "a-file"):
        if given.name == "a-file":
            given.write_text("")
        cfg = OmegaConf.create({"paths": {"runs": str(given)}})
        for listing in (runs_text, status_text, discovered_experiment):  # the last: afuse report
            with pytest.raises(
                ConfigError, match=f"paths.runs={given}: .*(no such directory|not a directory)"
            ):
                listing(cfg)


def test_the_default_runs_folder_missing_means_no_runs_yet(tmp_path, monkeypatch):
    """A fresh clone has no runs/: nothing wrong, nothing trained yet (exit 0)."""
    monkeypatch.chdir(tmp_path)
    cfg = OmegaConf.create({"paths": {"runs": "runs"}})  # conf/paths/default.yaml's value
    for listing in (runs_text, status_text):
        text = listing(cfg)
        assert "nothing trained here yet" in text and "no such directory" not in text, text


def test_status_says_stale_and_damaged_runs_need_force_true_not_a_rerun(tmp_path):
    # A plain rerun skips a finished run, so "rerun its own command to resume it" does not help
    # a damaged (or stale) one.
    cfg = tree(tmp_path)  # one incomplete run, one damaged
    text = status_text(cfg)
    assert "Rerun an incomplete or failed run's own command to resume it" in text
    assert "damaged or stale run's own command with force=true" in text
    finished = write_run(stage1_dir(tmp_path / "runs", "tiny", "pfeiffer_rf16", "cb", 1), 0.6)
    (finished / "config.yaml").write_text(
        "seed: 1\n"
    )  # the incomplete run finished: only the damaged one left
    text = status_text(cfg)
    assert "resume" not in text and "force=true" in text


def test_list_runs_and_status_show_absolute_run_folders(tmp_path, monkeypatch):
    # What a user can paste anywhere, and the same in both commands.
    tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    cfg = OmegaConf.create({"paths": {"runs": "runs"}})
    damaged = str(tmp_path / "runs" / "stage1" / "tiny" / "pfeiffer_rf16" / "cb" / "seed2")
    for text in (runs_text(cfg), status_text(cfg)):
        line = next(line for line in text.splitlines() if line.startswith("damaged"))
        assert f" {damaged} " in line, text


def test_a_fusion_over_a_retrained_source_is_stale_in_the_listing_and_status(tmp_path):
    # No preset: the Fusion run's own config.yaml says where its sources are.
    import hashlib

    import numpy as np
    from safetensors.numpy import save_file

    runs = tmp_path / "runs"
    source = write_run(stage1_dir(runs, "tiny", "pfeiffer_rf16", "cb", 1), 0.6, kind="st_a")
    (source / "config.yaml").write_text("seed: 1\n")
    adapter = source / "adapter.safetensors"
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(adapter))
    fusion = stage2_dir(runs, "tiny", "dynamic_pfeiffer_rf16_src-a8fd2e", "cb", 1)
    write_run(
        fusion, 0.7, kind="fusion", source_sha256={"cb": hashlib.sha256(adapter.read_bytes()).hexdigest()}
    )
    (fusion / "config.yaml").write_text(
        "seed: 1\ntarget: cb\nadapters: st_a\nmodel: {name: tiny}\npaths: {runs: /elsewhere}\n"
        "adapter: {variant: pfeiffer, reduction_factor: 16}\nfusion: {sources: [cb], source_seed: null}\n"
    )
    cfg = OmegaConf.create({"paths": {"runs": str(runs)}})
    assert {r.state for r in find_runs(runs)} == {"done"}

    save_file({"w": np.ones(2, dtype=np.float32)}, str(adapter))  # afuse train-adapter task=cb force=true
    states = {r.run_dir: (r.state, r.note) for r in find_runs(runs)}
    state, note = states[fusion]
    assert state == "stale" and "source adapter(s) cb were retrained since" in note and "force=true" in note
    assert states[source][0] == "done"
    assert f"stale dynamic_pfeiffer_rf16_src-a8fd2e cb 1 {fusion}" in " ".join(status_text(cfg).split())
    # still a finished run of the tree: the report shows it (marked), never silently drops it
    assert fusion in {job.run_dir for job in discovered_experiment(cfg).jobs()}


def test_fusions_of_two_models_with_the_same_variant_get_heatmaps_of_their_own(tmp_path):
    # One runs tree with MiniLM and tiny Fusions over the same sources: both columns are named
    # dynamic_pfeiffer_rf16, and the second model's heatmaps replaced the first's in
    # heatmaps/dynamic_pfeiffer_rf16/ without a word.
    from afuse.cli import main
    from tests.synthetic import write_activations

    runs = tmp_path / "runs"
    for model, weight in (("minilm", 0.9), ("tiny", 0.2)):
        run = write_run(stage2_dir(runs, model, "dynamic_pfeiffer_rf16", "rte", 1), 0.7, kind="fusion")
        (run / "config.yaml").write_text("seed: 1\n")
        write_activations(run, ["rte", "cb"], [[weight, 1 - weight]])
    paths = [f"paths.runs={runs}", f"paths.results={tmp_path}/results", f"paths.logs={tmp_path}/logs"]
    main(["report", *paths, "report.heatmap_formats=[png]"])
    heatmaps = tmp_path / "results" / "runs" / "heatmaps"
    tables = {p.parent.name: pd.read_csv(p) for p in heatmaps.rglob("activations.csv")}
    assert len(tables) == 2, sorted(tables)
    firsts = sorted(float(t.loc[t.source == "rte", "mean_weight"].iloc[0]) for t in tables.values())
    assert firsts == [0.2, 0.9]
    assert all(name.endswith("dynamic_pfeiffer_rf16") for name in tables)


@pytest.mark.parametrize(
    ("run", "content", "damage", "damaged_runs"),
    [  # the tree holds one damaged run already: ST-A CB seed 2
        (("pfeiffer_rf16", "cb", 2), '{"test": {"accuracy": 0.5', "metrics.json: not readable JSON", 1),
        (("mt_a", "rte-cb", 1), '{"tasks": {"rte": {"test": {}}}}', "metrics.json: no test accuracy", 2),
    ],
)
def test_report_without_a_preset_leaves_a_damaged_run_out_marked_not_unsaid(
    tmp_path, run, content, damage, damaged_runs
):
    # It listed finished runs only, so a damaged one vanished from the tables without a word,
    # where a preset's report marks its cell § and says what is wrong and what to run.
    from afuse.cli import main

    tree(tmp_path)
    runs = tmp_path / "runs"
    variant, task, seed = run
    damaged = stage1_dir(runs, "tiny", variant, task, seed)
    (damaged / "metrics.json").write_text(content)
    paths = [f"paths.runs={runs}", f"paths.results={tmp_path}/results", f"paths.logs={tmp_path}/logs"]
    main(["report", *paths, "report.heatmaps=false"])
    out = tmp_path / "results" / "runs"
    table = (out / "accuracy.md").read_text()
    column = f"tiny/{variant}" + ("/rte-cb" if variant == "mt_a" else "")
    cb = next(line for line in table.splitlines() if line.startswith("| CB |"))
    header = next(line for line in table.splitlines() if line.startswith("| Task |"))
    cell = cb.split("|")[header.split("|").index(f" {column} ")].strip()
    assert cell.endswith("§"), table
    note = next(line for line in table.splitlines() if line.startswith(f"- § CB · {column}:"))
    assert str(damaged) in note and damage in note and "force=true" in note, note
    assert "experiment=" not in note  # no preset: no preset's line to give
    assert f"{damaged_runs} of them damaged, left out of the numbers: §" in (out / "report.md").read_text()
    row = next(line for line in (out / "runs.csv").read_text().splitlines() if str(damaged) in line)
    assert "damaged" in row


def test_a_run_whose_prepared_data_changed_since_is_stale_in_the_listing_and_status(tmp_path):
    """As in a preset's status: list runs and status without a preset compare a finished run's
    prepared_data with the copy under paths.data."""
    from afuse.atomic import atomic_write_json
    from afuse.data_record import prepared_record

    manifest = {"fingerprint": "f", "splits": {"train": {"file": "train.parquet", "sha256": "1" * 64}}}
    path = tmp_path / "data" / "prepared" / "rte" / "manifest.json"
    path.parent.mkdir(parents=True)
    atomic_write_json(path, manifest)
    run = write_run(stage1_dir(tmp_path / "runs", "tiny", "pfeiffer_rf16", "rte", 1), 0.6,
                    kind="st_a", prepared_data={"rte": prepared_record(manifest)})  # fmt: skip
    (run / "config.yaml").write_text("seed: 1\n")
    cfg = OmegaConf.create({"paths": {"runs": str(tmp_path / "runs"), "data": str(tmp_path / "data")}})
    assert [r.state for r in find_runs(cfg.paths.runs, cfg.paths.data)] == ["done"]
    manifest["splits"]["train"]["sha256"] = "2" * 64
    atomic_write_json(path, manifest)
    assert [r.state for r in find_runs(cfg.paths.runs, cfg.paths.data)] == ["stale"]
    for text in (runs_text(cfg), status_text(cfg)):
        assert "stale" in text and "were made again since, from other raw files: rte (train)" in text, text
