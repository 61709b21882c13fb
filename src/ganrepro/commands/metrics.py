"""``ganrepro segmenter train|ground-truth``, ``ganrepro score`` and ``ganrepro evaluate``: the metrics' commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganrepro.metrics import DEFAULT_METRICS, METRIC_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_segmenter(subparsers)
    _register_score(subparsers)
    _register_evaluate(subparsers)


def _add_metric_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("metric options")
    group.add_argument("--metrics", default=None, help=f"comma-separated subset of {','.join(METRIC_NAMES)}")
    group.add_argument("--segmenter", default=None, metavar="CKPT", help="segmenter.pt for the FCN-score")
    group.add_argument(
        "--fcn-protocol",
        default="pix2pix",
        choices=("pix2pix", "logits"),
        help="FCN-score resolution protocol (the segmenter must be trained for it): pix2pix = images "
        "upsampled to the label maps' size and segmented there (default); logits = segmented at "
        "the generated size, logits upsampled",
    )
    group.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda or cuda:N")
    group.add_argument("--batch-size", type=int, default=16, help="images per batch for features/segmentation")
    group.add_argument(
        "--fid-weights",
        default=None,
        metavar="PATH",
        help="pytorch-fid Inception weights (default: $GANREPRO_FID_WEIGHTS, then the torch hub cache)",
    )
    group.add_argument(
        "--fetch-weights",
        action="store_true",
        help="download the FID weights from their official URL (hash-checked) if missing",
    )
    group.add_argument(
        "--skip-unavailable",
        action="store_true",
        help="record a metric whose weights/scorer are missing as unavailable instead of failing",
    )
    group.add_argument("--cache-dir", default=None, help="cache of real-set Inception features")
    group.add_argument("--kid-subsets", type=int, default=100)
    group.add_argument("--kid-subset-size", type=int, default=1000)


def _options(args: argparse.Namespace):
    from ganrepro.devices import resolve_device
    from ganrepro.metrics.score import MetricOptions

    return MetricOptions(
        device=resolve_device(args.device),
        batch_size=args.batch_size,
        segmenter=args.segmenter,
        fcn_protocol=args.fcn_protocol,
        fid_weights=args.fid_weights,
        fetch_weights=args.fetch_weights,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        skip_unavailable=args.skip_unavailable,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
    )


# ------------------------------------------------------------------------------------------------ segmenter


def _register_segmenter(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segmenter",
        help="train the FCN-score's segmenter; score the real photos with it",
        description="The FCN-score's scorer: a segmentation network trained on the dataset's real training photos.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train",
        help="train a segmenter on DATASET's real training photos",
        description="Writes OUT/segmenter.pt and OUT/segmenter.json (with its validation "
        "scores = the ground-truth row on the test split).",
    )
    train.add_argument("dataset", metavar="DATASET", help="prepared dataset name (or a prepared folder)")
    train.add_argument("--data-dir", default=None, help="data folder (default $GANREPRO_DATA_DIR or ./data)")
    train.add_argument("--out", default=None, help="output folder (default DATA_DIR/NAME/segmenter/ARCH-SIZE)")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument(
        "--arch",
        default="lraspp_mobilenet_v3_large",
        help="lraspp_mobilenet_v3_large (fast), fcn_resnet50 (the paper's FCN family), fcn_resnet101, "
        "deeplabv3_resnet50, deeplabv3_mobilenet_v3_large",
    )
    train.add_argument(
        "--size",
        type=int,
        default=None,
        help="training resolution = generated images' size (default: the dataset's image size)",
    )
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto")
    train.add_argument(
        "--backbone-weights",
        default="auto",
        metavar="auto|none|PATH",
        help="ImageNet backbone: auto = $GANREPRO_BACKBONE_WEIGHTS or the torch hub cache, else scratch",
    )
    train.add_argument("--max-steps", type=int, default=None, help="stop after N optimisation steps (smoke tests)")
    train.add_argument(
        "--fcn-protocol",
        default="pix2pix",
        choices=("pix2pix", "logits"),
        help="train for this FCN-score protocol: pix2pix = photos resized to --size as real/ is written, "
        "then upsampled to the label maps' resolution (default); logits = at --size",
    )
    train.add_argument(
        "--train-crop",
        type=int,
        default=None,
        metavar="N",
        help="pix2pix protocol: train on random NxN crops of the full-resolution images (cost bound)",
    )
    train.set_defaults(func=run_segmenter_train)

    gt = actions.add_parser("ground-truth", help="FCN-score of the real test photos (the scorer's ceiling)")
    gt.add_argument("dataset", metavar="DATASET")
    gt.add_argument("--segmenter", required=True, metavar="CKPT")
    gt.add_argument("--data-dir", default=None)
    gt.add_argument("--split", default="test")
    gt.add_argument("--device", default="auto")
    gt.add_argument("--batch-size", type=int, default=8)
    gt.add_argument("--refresh", action="store_true", help="recompute even if cached")
    gt.add_argument("--json", default=None, metavar="OUT")
    gt.set_defaults(func=run_ground_truth)


def run_segmenter_train(args: argparse.Namespace) -> int:
    from ganrepro.devices import resolve_device
    from ganrepro.metrics.segmenter import check_arch
    from ganrepro.metrics.segmenter_train import train_segmenter
    from ganrepro.preparation.reader import resolve_prepared

    check_arch(args.arch)
    prepared = resolve_prepared(args.dataset, args.data_dir)
    backbone = None if args.backbone_weights == "none" else args.backbone_weights
    record = train_segmenter(
        prepared,
        args.out,
        arch=args.arch,
        size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=resolve_device(args.device),
        backbone_weights=backbone,
        max_steps=args.max_steps,
        protocol=args.fcn_protocol,
        train_crop=args.train_crop,
    )
    val = record["val"]
    backbone_text = "ImageNet backbone" if record["backbone"]["imagenet_backbone"] else "from scratch"
    print(
        f"segmenter {record['arch']} ({backbone_text}, FCN protocol {record['protocol']}), {record['steps']} steps "
        f"-> {record['checkpoint']}"
    )
    print(
        f"{val['split']} photos: per-pixel acc {val['pixel_acc']:.4f}  per-class acc {val['class_acc']:.4f}  "
        f"class IoU {val['class_iou']:.4f}"
    )
    return 0


def run_ground_truth(args: argparse.Namespace) -> int:
    from ganrepro.atomic import write_json
    from ganrepro.devices import resolve_device
    from ganrepro.metrics.score import format_table
    from ganrepro.metrics.segmenter import ground_truth_scores
    from ganrepro.preparation.reader import resolve_prepared

    prepared = resolve_prepared(args.dataset, args.data_dir)
    check_writable_file(args.json, "--json")
    result = ground_truth_scores(
        prepared, args.segmenter, args.split, resolve_device(args.device), args.batch_size, refresh=args.refresh
    )
    print(format_table({"fcn": result}))
    print(f"FCN protocol {result['protocol']}; {result['real_images']} ({result['real_size']} px)")
    if args.json:
        write_json(args.json, result)
    return 0


# ---------------------------------------------------------------------------------------------------- score


def _register_score(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score generated images against real ones (any implementation's)",
        description="Pairs --real and --fake files by name (refusing mismatched sets) and "
        "prints a table; --json writes every metric with its protocol.",
    )
    parser.add_argument("--real", required=True, help="folder of real images")
    parser.add_argument("--fake", required=True, help="folder of generated images")
    parser.add_argument(
        "--labels", default=None, help="folder of label maps (NAME.png class indices) for the FCN-score"
    )
    parser.add_argument(
        "--real-suffix", default="", help="strip this from real file stems before pairing (e.g. _real_B)"
    )
    parser.add_argument("--fake-suffix", default="", help="strip this from generated file stems (e.g. _fake_B)")
    parser.add_argument("--unpaired", action="store_true", help="sets need not match (FID/KID only)")
    parser.add_argument("--json", default=None, metavar="OUT", help="write the full results as JSON")
    _add_metric_options(parser)
    parser.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    from ganrepro.atomic import write_json
    from ganrepro.metrics.score import PAIRED_METRICS, format_table, parse_metrics, score_folders

    default = [
        m for m in DEFAULT_METRICS if not (args.unpaired and m in PAIRED_METRICS) and (m != "fcn" or args.labels)
    ]
    metrics = parse_metrics(args.metrics, default)
    check_writable_file(args.json, "--json")
    report = score_folders(
        args.real,
        args.fake,
        metrics,
        _options(args),
        labels_dir=args.labels,
        real_suffix=args.real_suffix,
        fake_suffix=args.fake_suffix,
        unpaired=args.unpaired,
    )
    print(format_table(report["metrics"]))
    if args.json:
        write_json(args.json, report)
    return 0


# ------------------------------------------------------------------------------------------------- evaluate


def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="run a trained generator on the test split and score it",
        description="Writes OUT/images/NAME.png, OUT/real/NAME.png and OUT/metrics.json "
        "(default OUT: RUN_DIR/eval/SPLIT-{train,eval}mode).",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--eval-mode",
        action="store_true",
        help="generator in eval mode (default: train mode, dropout on and batch statistics, as the papers)",
    )
    parser.add_argument("--checkpoint", default="latest.pt", help="checkpoint file name in RUN_DIR/checkpoints")
    parser.add_argument(
        "--allow-outside-checkpoint",
        action="store_true",
        help="accept a --checkpoint that lies outside RUN_DIR (recorded in metrics.json): it would "
        "score another run's weights under this run's name",
    )
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--reverse",
        action="store_true",
        help="CycleGAN: also score the second generator (G_B) on the other direction, into OUT/reverse/ "
        "(photo→labels from a labels→photo run)",
    )
    _add_metric_options(parser)
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from ganrepro.metrics.evaluate import evaluate_run
    from ganrepro.metrics.score import format_table, parse_metrics

    check_checkpoint_inside(Path(args.run_dir), args.checkpoint, args.allow_outside_checkpoint)
    metrics = parse_metrics(args.metrics, DEFAULT_METRICS)
    report = evaluate_run(
        args.run_dir,
        split=args.split,
        train_mode=not args.eval_mode,
        metrics=metrics,
        segmenter=args.segmenter,
        out=args.out,
        options=_options(args),
        checkpoint_name=args.checkpoint,
        reverse=args.reverse,
    )
    print(format_table(report["metrics"]))
    if "reverse" in report:
        print(f"reverse direction ({report['reverse']['direction']}, G_B) -> {report['reverse']['file']}")
    print(f"-> {Path(report['generation']['images_dir']).parent / 'metrics.json'}")
    return 0


def check_checkpoint_inside(run_dir: Path, name: str, allowed: bool) -> None:
    """Refuse ``--checkpoint`` outside RUN_DIR (e.g. ``../../other/run/final.pt``) unless explicitly allowed:
    its scores would be filed under this run's name."""
    from ganrepro.errors import UserError

    path = (run_dir / "checkpoints" / name).resolve()
    if not allowed and not path.is_relative_to(run_dir.resolve()):
        raise UserError(
            f"--checkpoint {name} resolves to {path}, outside {run_dir}; its scores would be filed "
            "under this run -- evaluate that run instead, or pass --allow-outside-checkpoint"
        )


def check_writable_file(path: str | None, option: str) -> None:
    """Refuse an output path that is a folder (or whose folder is a file) before any work is done."""
    from ganrepro.errors import UserError

    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name (e.g. {target / 'scores.json'})")
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is a file, not a folder")
