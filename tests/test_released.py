"""Released models as report rows: `released:` entries checked strictly, applied only to their dataset and
resolution, fetched through the verified download code (mirror, sha256, first-use pin), and built through the
DAG beside the rows."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from test_import_checkpoint import port_checkpoint, sets
from test_pipeline_dag import snakemake, workflow_copy

from ganrepro.cli import main
from ganrepro.errors import ConfigError
from ganrepro.hashing import sha256_file
from ganrepro.workflow.dvc import dvc_stages
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.spec import load_table

ROOT = Path(__file__).resolve().parents[1]
P2P_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/facades_label2photo.pth"


@pytest.fixture
def params_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    params = tmp_path / "params"
    shutil.copytree(ROOT / "params", params)
    monkeypatch.setenv("GANREPRO_PARAMS", str(params))
    return params


def with_released(params: Path, entries: list[dict], section: int = 0) -> Path:
    """pix2pix_ablation.yaml with ``entries`` as the ``released:`` of one section."""
    path = params / "tables" / "pix2pix_ablation.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["sections"][section]["released"] = entries
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


GOOD = {
    "id": "mine",
    "label": "released",
    "url": "file:///srv/g.pth",
    "sha256": None,
    "arch": "unet_256",
    "dataset": "facades",
    "size": 256,
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"id": "a-b"}, r"released\[0\]\.id must be letters"),
        ({"path": "g.pth"}, r"released\[0\]: give exactly one of 'url'"),
        ({"url": "ftp://host/g.pth"}, r"released\[0\]\.url must start with http"),
        ({"sha256": "abc"}, r"released\[0\]\.sha256 must be 64 lower-case hex digits, or null"),
        ({"size": "256"}, r"released\[0\]\.size must be the positive resolution"),
        ({"set": {"data.crop_size": 64}}, r"released\[0\]\.set\.data\.crop_size: data keys come from the table"),
        ({"colour": 1}, r"released\[0\]: unknown key 'colour'"),
    ],
)
def test_bad_released_entries_fail_naming_file_and_key(params_copy: Path, change: dict, message: str) -> None:
    path = with_released(params_copy, [{**GOOD, **change}])
    with pytest.raises(ConfigError, match=message) as err:
        load_table("pix2pix_ablation")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_sha256_key_and_one_id_for_two_models_are_refused(params_copy: Path) -> None:
    with_released(params_copy, [{k: v for k, v in GOOD.items() if k != "sha256"}])
    with pytest.raises(ConfigError, match=r"released\[0\]: missing key 'sha256'"):
        load_table("pix2pix_ablation")
    with_released(params_copy, [{**GOOD, "dataset": "facade"}])
    with pytest.raises(ConfigError, match="released 'mine': dataset 'facade' is not in params/datasets.yaml"):
        Plan("facades", "paper").validate()
    with_released(params_copy, [GOOD])
    with_released(params_copy, [{**GOOD, "label": "another"}], section=1)
    with pytest.raises(ConfigError, match="id 'mine' is declared differently"):
        Plan("facades", "paper").validate()


def test_released_models_apply_only_to_their_dataset_and_resolution() -> None:
    paper = Plan("facades", "paper", mirror="file:///srv/mirror")
    paper.validate()
    assert set(paper.released.entries) == {"pix2pix_facades_label2photo", "cyclegan_facades_label2photo"}
    command = paper.released.import_command("pix2pix_facades_label2photo")
    assert command.split()[3:5] == ["import-checkpoint", P2P_URL]
    assert "--mirror file:///srv/mirror/released/pix2pix_facades_label2photo" in command
    assert "--sha256" not in command and "--data-dir data" in command  # unpublished: pinned on first fetch
    evaluate = paper.released.evaluate_command("pix2pix_facades_label2photo").split()[3:]
    ours = paper.evaluate_command("pix2pix_ablation", "l1", 0).split()[3:]  # a run no other table shares
    assert evaluate[2:] == ours[2:] and evaluate[1] == "results/facades/paper/released/pix2pix_facades_label2photo"
    config = paper.released.config("pix2pix_facades_label2photo")
    assert config.network.generator == "unet_256" and config.data == paper.config("pix2pix_ablation", "l1", 0).data
    stages = dvc_stages(paper)
    assert stages["import-released-pix2pix_facades_label2photo"]["cmd"][1] == command
    assert command.split()[2] == paper.released.import_log("pix2pix_facades_label2photo")
    assert stages["evaluate-released-pix2pix_facades_label2photo"]["deps"] == [
        "results/facades/paper/released/pix2pix_facades_label2photo/checkpoints/final.pt",
        "results/facades/paper/segmenter/fcn_resnet50-256/segmenter.pt",
    ]
    assert paper.released.metrics_json("pix2pix_facades_label2photo") in stages["report-pix2pix_ablation"]["deps"]

    for dataset, profile, reason in (
        ("synthetic", "smoke", "trained on facades; this build is synthetic"),
        ("facades", "quick", "trained at 256×256; this build generates at 64×64"),
    ):
        plan = Plan(dataset, profile)
        plan.validate()
        assert plan.released.entries == {} and plan.released.metrics_files("pix2pix_ablation") == []
        losses = plan.table("pix2pix_ablation").sections[0]
        assert [s.reason for s in plan.released.skipped(losses.released)] == [reason]
        assert not any("released" in name for name in dvc_stages(plan))


def test_a_path_entry_is_imported_from_its_file_with_its_published_hash(params_copy: Path) -> None:
    with_released(
        params_copy,
        [
            {
                **{k: v for k, v in GOOD.items() if k != "url"},
                "path": "released/g.pth",
                "sha256": "a" * 64,
                "arch": "unet_64",
                "dataset": "synthetic",
                "size": 64,
            }
        ],
    )
    plan = Plan("synthetic", "quick", mirror="file:///srv/mirror")
    plan.validate()
    argv = plan.released.import_command("mine").split()
    assert argv[4] == "released/g.pth" and argv[argv.index("--sha256") + 1] == "a" * 64
    assert "--mirror" not in argv  # a file path is read where it is
    assert "--set" in argv and "network.ngf=16" not in argv  # the profile's widths are ours, not the authors'


def test_bad_hash_or_changed_file_is_one_line_error_and_no_run_dir(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    port_checkpoint(mirror / "g.pth")
    url = "file:///nowhere/models/g.pth"  # never read: the mirror serves the file under its name
    common = ["import-checkpoint", url, "--arch", "unet_32", "--mirror", mirror.as_uri(), *sets(aligned_root)]
    out = tmp_path / "run"
    assert main([*common, "--sha256", "0" * 64, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not match --sha256" in err and not out.exists()

    offline = ["import-checkpoint", "http://unreachable.invalid/g.pth", "--arch", "unet_32", *sets(aligned_root)]
    assert main([*offline, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot reach" in err and "--mirror" in err and not out.exists()

    data = tmp_path / "data"
    assert main([*common, "--data-dir", str(data), "--out", str(out)]) == 0  # first fetch: pinned
    lock = json.loads((data / "datasets.lock.json").read_text())
    assert lock[f"released/{url}"]["sha256"] == sha256_file(mirror / "g.pth")
    (mirror / "g.pth").write_bytes((mirror / "g.pth").read_bytes() + b"\0")  # the mirror's copy changed
    capsys.readouterr()
    again = tmp_path / "again"
    assert main([*common, "--data-dir", str(data), "--out", str(again)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pinned at its first fetch" in err and not again.exists()


def test_the_dag_imports_evaluates_and_reports_a_released_row(tmp_path: Path) -> None:
    """Smoke profile, generated data: a checkpoint in the port's key layout, served by a file:// mirror, becomes
    a row of the report with metrics from the rows' own evaluate command."""
    work = workflow_copy(tmp_path / "w")
    for table in (work / "params" / "tables").glob("*.yaml"):
        table.unlink()
    mirror = tmp_path / "mirror"
    (mirror / "released" / "port_unet").mkdir(parents=True)
    checkpoint = mirror / "released" / "port_unet" / "latest_net_G.pth"
    port_checkpoint(checkpoint, ngf=4)
    digest = sha256_file(checkpoint)
    table = {
        "table": "tiny",
        "title": "Tiny",
        "model": "pix2pix",
        "base_config": "params/pix2pix.yaml",
        "citation": "test",
        "paper_columns": ["pixel_acc"],
        "rows": {"l1_cgan": {"label": "L1+cGAN", "set": {"network.generator": "unet_32"}}},
        "sections": [
            {
                "id": "losses",
                "title": "Losses",
                "source": "test",
                "rows": [{"row": "l1_cgan"}],
                "released": [
                    {
                        "id": "port_unet",
                        "label": "Port U-Net",
                        "sha256": digest,
                        "arch": "unet_32",
                        "url": "http://unreachable.invalid/latest_net_G.pth",
                        "dataset": "synthetic",
                        "size": 32,
                        "set": {"network.ngf": 4},
                    }
                ],
            }
        ],
    }
    (work / "params" / "tables" / "tiny.yaml").write_text(yaml.safe_dump(table, sort_keys=False))
    snakemake(
        "--cores",
        "2",
        "reports/tiny.md",
        "--config",
        "dataset=synthetic",
        "profile=smoke",
        f"mirror={mirror.as_uri()}",
        cwd=work,
        src=ROOT / "src",
    )

    run_dir = work / "results" / "synthetic" / "smoke" / "released" / "port_unet"
    provenance = json.loads((run_dir / "provenance.json").read_text())["invocations"][0]["imported"][0]
    assert provenance["sha256"] == digest and provenance["source"] == table["sections"][0]["released"][0]["url"]
    metrics = json.loads((run_dir / "eval" / "test-trainmode" / "metrics.json").read_text())["metrics"]
    report = (work / "reports" / "tiny.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| Port U-Net"))
    assert f"released checkpoint, sha256 `{digest[:12]}`" in row
    assert re.search(rf"\| {metrics['fcn']['pixel_acc']:.3f} \|", row)  # its own per-pixel accuracy, not n/a
    assert f"sha256 `{digest}` (equal to the sha256 published" in report
    assert "http://unreachable.invalid/latest_net_G.pth" in report
