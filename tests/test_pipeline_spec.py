"""Tables and profiles under params/: strict loading, row expansion, commands and the generated dvc.yaml."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganrepro.errors import ConfigError
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.profile import load_profile
from ganrepro.workflow.spec import load_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def params_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of params/ that the loaders read (via $GANREPRO_PARAMS)."""
    params = tmp_path / "params"
    shutil.copytree(ROOT / "params", params)
    monkeypatch.setenv("GANREPRO_PARAMS", str(params))
    return params


@pytest.mark.parametrize("dataset", ["synthetic", "facades", "cityscapes"])
@pytest.mark.parametrize("profile", ["paper", "gpu-short", "quick", "smoke"])
def test_every_table_resolves_on_every_profile(dataset: str, profile: str) -> None:
    plan = Plan(dataset, profile)
    plan.validate()  # every row x seed builds a valid config
    assert set(plan.tables) == {"pix2pix_ablation", "cyclegan_ablation", "pix2pix_photo2labels"}


def test_the_tables_hold_the_papers_rows_and_numbers() -> None:
    p2p = load_table("pix2pix_ablation")
    sections = {s.id: s for s in p2p.sections}
    assert [r.label for r in sections["losses"].rows] == ["L1", "GAN", "cGAN", "L1+GAN", "L1+cGAN"]
    assert [r.paper for r in sections["losses"].rows][-1] == (0.66, 0.23, 0.17)
    assert sections["losses"].ground_truth == (0.80, 0.26, 0.21)
    assert [r.row for r in sections["receptive_field"].rows] == ["d_pixel", "d_patch16", "l1_cgan", "d_patch286"]
    assert sections["receptive_field"].rows[0].paper == (0.39, 0.15, 0.10)
    assert sections["generators"].rows[0].paper == (0.35, 0.12, 0.08)
    assert [p2p.row_overrides(r.row).get("pix2pix.lambda_l1", 100) for r in sections["lambda_l1"].rows] == [
        1,
        10,
        100,
        1000,
    ]
    cg = load_table("cyclegan_ablation")
    losses = {r.row: r.paper for r in next(s for s in cg.sections if s.id == "losses").rows}
    assert losses == {
        "cycle_alone": (0.22, 0.07, 0.02),
        "gan_alone": (0.51, 0.11, 0.08),
        "gan_forward": (0.55, 0.18, 0.12),
        "gan_backward": (0.39, 0.14, 0.06),
        "cyclegan": (0.52, 0.17, 0.11),
    }


def test_rows_shared_by_several_tables_are_trained_once() -> None:
    plan = Plan("facades", "paper")
    runs = list(plan.runs("pix2pix_ablation"))
    assert len(runs) == 14 * 3 and len(set(runs)) == len(runs)  # 14 distinct configurations x 3 seeds
    configs = {plan.config("pix2pix_ablation", row, 0).digest() for row in plan.table("pix2pix_ablation").rows}
    assert len(configs) == 14  # no two rows train the same thing
    assert len(list(plan.runs("cyclegan_ablation"))) == 12 * 3  # with the paired pix2pix rows of Tables 2-3


def test_a_row_of_another_model_trains_at_the_tables_resolution() -> None:
    """CycleGAN Tables 2-3's paired upper bound: a pix2pix row in the CycleGAN table, from params/pix2pix.yaml,
    without the table's CycleGAN base_set, at the CycleGAN rows' resolution (Cityscapes: 128 px)."""
    plan = Plan("cityscapes", "paper")
    spec = plan.table("cyclegan_ablation")
    upper = plan.config("cyclegan_ablation", "pix2pix", 0)
    assert (upper.model, spec.row_base_config("pix2pix")) == ("pix2pix", "params/pix2pix.yaml")
    assert upper.data.crop_size == plan.config("cyclegan_ablation", "cyclegan", 0).data.crop_size == 128
    assert upper.network.generator != "resnet_6blocks"  # the CycleGAN rows' generator is not imposed
    assert plan.config("cyclegan_ablation", "pix2pix_reversed", 0).data.direction == "AtoB"
    assert "--config params/pix2pix.yaml" in plan.train_command("cyclegan_ablation", "pix2pix", 0)
    assert "--reverse" in plan.evaluate_command("cyclegan_ablation", "cyclegan", 0)
    assert "--reverse" not in plan.evaluate_command("cyclegan_ablation", "pix2pix_reversed", 0)
    assert "--segmenter" not in plan.evaluate_command("pix2pix_photo2labels", "l1", 0)  # labelmap only: no scorer
    assert "labelmap" in plan.evaluate_command("cyclegan_ablation", "cyclegan", 0)


def test_rows_resolve_to_the_ablation_they_name() -> None:
    plan = Plan("synthetic", "quick")
    assert plan.config("pix2pix_ablation", "l1", 0).pix2pix.gan == "none"
    gan = plan.config("pix2pix_ablation", "gan", 2)
    assert (gan.pix2pix.gan, gan.pix2pix.lambda_l1, gan.seed) == ("unconditional", 0.0, 2)
    assert plan.config("pix2pix_ablation", "encdec_l1_cgan", 0).network.generator == "encoder_decoder_64"
    assert plan.config("pix2pix_ablation", "d_patch286", 0).network.discriminator == "patch286"
    cycle = plan.config("cyclegan_ablation", "gan_backward", 0).cyclegan
    assert (cycle.use_gan, cycle.forward_cycle, cycle.backward_cycle, cycle.lambda_identity) == (True, False, True, 0.0)
    assert plan.config("cyclegan_ablation", "identity", 0).cyclegan.lambda_identity == 0.5
    paper = Plan("facades", "paper").config("pix2pix_ablation", "l1_cgan", 0)
    assert (paper.data.crop_size, paper.network.generator, paper.train.n_epochs + paper.train.n_epochs_decay) == (
        256,
        "unet_256",
        200,
    )


def test_a_section_naming_an_undeclared_row_fails_with_the_file(params_copy: Path) -> None:
    path = params_copy / "tables" / "pix2pix_ablation.yaml"
    path.write_text(path.read_text().replace("- {row: gan,     paper", "- {row: gann,    paper"))
    with pytest.raises(ConfigError, match=r"pix2pix_ablation.yaml.*'gann' is not declared"):
        load_table("pix2pix_ablation")


def test_a_paper_number_list_of_the_wrong_length_fails(params_copy: Path) -> None:
    path = params_copy / "tables" / "pix2pix_ablation.yaml"
    path.write_text(path.read_text().replace("[0.42, 0.15, 0.11]", "[0.42, 0.15]"))
    with pytest.raises(ConfigError, match="list of 3 numbers"):
        load_table("pix2pix_ablation")


@pytest.mark.parametrize(
    "edit, message",
    [
        (("seeds: [0]", "seeds: [0, 0]"), "distinct"),
        (("metrics: [fcn, fid, kid, ssim, psnr]", "metrics: [fcn, lpips]"), "subset"),
        (("threads: 1", "thread: 1"), "missing key 'threads'"),
        (
            ("fcn: {protocol: pix2pix, train_crop: 128}", "fcn: {protocol: caffe}"),
            "fcn.protocol: unknown FCN-score protocol",
        ),
        (
            ("fcn: {protocol: pix2pix, train_crop: 128}", "fcn: {protocol: pix2pix, train_crop: 0}"),
            "train_crop must be",
        ),
        (("fcn: {protocol: pix2pix, train_crop: 128}", "fcn: {protocol: logits, train_crop: 128}"), "pix2pix only"),
        (("fcn: {protocol: pix2pix, train_crop: 128}", "fcn: {protcol: logits}"), "unknown key 'protcol'"),
    ],
)
def test_malformed_profiles_fail_naming_the_key(params_copy: Path, edit: tuple[str, str], message: str) -> None:
    path = params_copy / "profiles" / "quick.yaml"
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(ConfigError, match=message):
        load_profile("quick")


def test_a_row_and_a_profile_setting_the_same_key_is_refused(params_copy: Path) -> None:
    path = params_copy / "profiles" / "quick.yaml"
    path.write_text(path.read_text().replace("  network.ndf: 16\n", "  network.ndf: 16\n  pix2pix.lambda_l1: 5\n"))
    with pytest.raises(ConfigError, match="both set pix2pix.lambda_l1"):
        Plan("synthetic", "quick").validate()


def test_bad_row_values_fail_before_any_job(params_copy: Path) -> None:
    path = params_copy / "tables" / "pix2pix_ablation.yaml"
    path.write_text(path.read_text().replace("network.discriminator: patch16}", "network.discriminator: patch17}"))
    with pytest.raises(ConfigError, match="patch17"):
        Plan("synthetic", "smoke").validate()


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: gpu-short, paper, quick, smoke"):
        load_profile("fast")


def test_train_command_carries_every_override() -> None:
    command = Plan("synthetic", "quick").train_command("pix2pix_ablation", "lambda_10", 0)
    assert command.startswith(
        "ganrepro --log results/synthetic/quick/logs/pix2pix_ablation/lambda_10/seed0/train.log train "
    )
    for part in (
        "--config params/pix2pix.yaml",
        "--set data.root=data/synthetic/prepared",
        "--set data.crop_size=64",
        "--set pix2pix.lambda_l1=10",
        "--set seed=0",
        "--out results/synthetic/quick/pix2pix_ablation/lambda_10/seed0",
    ):
        assert part in command


def test_the_profiles_fcn_protocol_reaches_the_segmenter_and_evaluate_commands(params_copy: Path) -> None:
    plan = Plan("facades", "quick")
    assert plan.profile.fcn_protocol == "pix2pix" and plan.profile.fcn_train_crop == 128
    assert "--fcn-protocol pix2pix --train-crop 128 " in plan.segmenter_command(64)
    assert "--fcn-protocol pix2pix --metrics" in plan.evaluate_command("pix2pix_ablation", "l1", 0)
    path = params_copy / "profiles" / "quick.yaml"
    path.write_text(path.read_text().replace("fcn: {protocol: pix2pix, train_crop: 128}\n", ""))
    plan = Plan("facades", "quick")  # no fcn key: the default protocol, whole images
    assert plan.profile.fcn_protocol == "pix2pix" and "--train-crop" not in plan.segmenter_command(64)


def test_committed_dvc_yaml_is_generated_from_params() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ganrepro", "dvc-yaml", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_rule_files_take_every_build_path_from_the_plan() -> None:
    """A path spelt out in a rule file could drift from the one the plan gives the stages of dvc.yaml (and
    from what the command writes); every rule names its files through PLAN, comments aside."""
    spelt = re.compile(r"""["'](?:results|reports|data)/|\{dataset\}|\{profile\}""")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in [ROOT / "Snakefile", *sorted((ROOT / "pipeline").glob("*.smk"))]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if not line.lstrip().startswith("#") and spelt.search(line.split(" # ")[0])
    ]
    assert found == []


def test_log_option_appends_the_commands_output(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "models.log"
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "ganrepro", "--log", str(log), "models"], check=True, capture_output=True)
    assert log.read_text().count("patch286") == 2


def test_the_papers_claimed_orderings_are_data_with_their_source() -> None:
    sections = {s.id: s for s in load_table("pix2pix_ablation").sections}
    best = sections["losses"].claims[0]
    assert (best.best, best.better, best.worse, best.metric) == (
        True,
        "l1_cgan",
        ("l1", "gan", "cgan", "l1_gan"),
        "pixel_acc",
    )
    assert ("l1", ("encdec_l1",)) in [(c.better, c.worse) for c in sections["generators"].claims]
    assert {c.worse[0] for c in sections["receptive_field"].claims} == {"d_pixel", "d_patch16", "d_patch286"}
    assert sections["lambda_l1"].claims == ()  # the paper publishes no λ table, so it claims nothing there
    cycle = next(s for s in load_table("cyclegan_ablation").sections if s.id == "losses")
    assert all(c.better == "cyclegan" and "Table 4" in c.source for c in cycle.claims)
    assert "gan_forward" not in {w for c in cycle.claims for w in c.worse}  # above CycleGAN in Table 4


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        (
            "{better: l1_cgan, worse: d_pixel, metric: pixel_acc, source: x}",
            r"worse: row 'd_pixel' is not in this section",
        ),
        ("{best: l1_cgan, metric: sharpness, source: x}", r"metric must be one of pixel_acc"),
        ("{better: l1_cgan, worse: l1, metric: pixel_acc, source: ''}", r"source must say where"),
        ("{better: l1_cgan, worse: l1, metric: pixel_acc}", r"missing key 'source'"),
    ],
)
def test_a_bad_claim_fails_with_the_file_and_key(params_copy: Path, claim: str, message: str) -> None:
    path = params_copy / "tables" / "pix2pix_ablation.yaml"
    text = path.read_text()
    start = text.index("    claims:\n", text.index("id: losses"))
    end = text.index("\n\n", start)
    path.write_text(text[:start] + f"    claims:\n      - {claim}" + text[end:])
    with pytest.raises(ConfigError, match=r"pix2pix_ablation.yaml: sections\[0\].claims\[0\].*" + message):
        load_table("pix2pix_ablation")
