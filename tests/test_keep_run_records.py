"""experiments/keep_run_records.py: what a committed results folder keeps of each finished run."""

from experiments.keep_run_records import keep_records


def _run(root, rel, files):
    run_dir = root / rel
    run_dir.mkdir(parents=True)
    for name in files:
        path = run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return run_dir


def test_keeps_records_adapters_heads_and_named_fusions_and_leaves_out_encoders_and_resume_state(tmp_path):
    src, dst = tmp_path / "runs", tmp_path / "results" / "runs"
    _run(
        src,
        "stage1/m/pfeiffer_rf16/rte/seed1",
        [
            "config.yaml",
            "metrics.json",
            "adapter.safetensors",
            "adapter_config.json",
            "head.safetensors",
            ".lock",
            "eval/validation/metrics.json",  # afuse evaluate's, not a run's
        ],
    )
    _run(
        src,
        "stage2/m/dynamic/rte/seed1",
        ["config.yaml", "metrics.json", "activations.json", "fusion.safetensors", "head.safetensors"],
    )
    _run(
        src,
        "stage2/m/dynamic/cb/seed1",
        ["config.yaml", "metrics.json", "activations.json", "fusion.safetensors", "head.safetensors"],
    )
    _run(
        src,
        "stage1/m/full/rte/seed1",
        ["config.yaml", "metrics.json", "encoder.safetensors", "head.safetensors", "failed.json"],
    )
    _run(src, "stage1/m/pfeiffer_rf16/cb/seed1", ["config.yaml", "checkpoint/state.json"])  # unfinished

    keep_records(src, dst, fusion_layers=("rte/seed1",))

    kept = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert kept == [
        "stage1/m/full/rte/seed1/config.yaml",
        "stage1/m/full/rte/seed1/head.safetensors",
        "stage1/m/full/rte/seed1/metrics.json",
        "stage1/m/pfeiffer_rf16/rte/seed1/adapter.safetensors",
        "stage1/m/pfeiffer_rf16/rte/seed1/adapter_config.json",
        "stage1/m/pfeiffer_rf16/rte/seed1/config.yaml",
        "stage1/m/pfeiffer_rf16/rte/seed1/head.safetensors",
        "stage1/m/pfeiffer_rf16/rte/seed1/metrics.json",
        "stage2/m/dynamic/cb/seed1/activations.json",  # a Fusion run not named: its record, not its layer
        "stage2/m/dynamic/cb/seed1/config.yaml",
        "stage2/m/dynamic/cb/seed1/metrics.json",
        "stage2/m/dynamic/rte/seed1/activations.json",
        "stage2/m/dynamic/rte/seed1/config.yaml",
        "stage2/m/dynamic/rte/seed1/fusion.safetensors",
        "stage2/m/dynamic/rte/seed1/head.safetensors",
        "stage2/m/dynamic/rte/seed1/metrics.json",
    ]
    assert (dst / "stage2/m/dynamic/rte/seed1/metrics.json").read_text() == "metrics.json"


def test_no_heads_keeps_the_records_and_adapters_but_no_head(tmp_path):
    src, dst = tmp_path / "runs", tmp_path / "results" / "runs"
    stage1 = ["config.yaml", "metrics.json", "adapter.safetensors", "adapter_config.json", "head.safetensors"]
    _run(src, "stage1/m/pfeiffer_rf16/rte/seed1", stage1)
    fusion = ["config.yaml", "metrics.json", "activations.json", "fusion.safetensors", "head.safetensors"]
    _run(src, "stage2/m/dynamic/rte/seed1", fusion)

    keep_records(src, dst, fusion_layers=("*",), heads=False)

    kept = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert kept == [
        "stage1/m/pfeiffer_rf16/rte/seed1/adapter.safetensors",
        "stage1/m/pfeiffer_rf16/rte/seed1/adapter_config.json",
        "stage1/m/pfeiffer_rf16/rte/seed1/config.yaml",
        "stage1/m/pfeiffer_rf16/rte/seed1/metrics.json",
        "stage2/m/dynamic/rte/seed1/activations.json",
        "stage2/m/dynamic/rte/seed1/config.yaml",
        "stage2/m/dynamic/rte/seed1/fusion.safetensors",
        "stage2/m/dynamic/rte/seed1/metrics.json",
    ]
