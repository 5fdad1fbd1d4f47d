"""Train the skeleton tokenizer (or run the leave-one-content-out study with --loco).

Default: train on every action all emotion styles share (text-aligned pre-training also sees every
other clip) and save `model.safetensors` + `config.json` into --out (models/default).
With --loco DIR: train one model per held-out action instead, beside the feature baseline and the
no-alignment ablation, and write results.json, summary.md and confusion PNGs into DIR.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node train`."""
    parser.add_argument("--data", type=Path, nargs="+", action="extend", default=None,
                        metavar="ROOT",
                        help="dataset roots, one or several: Bandai datasets, Emotion-Gait, a "
                             "lab's folder with a labels.csv (see `evaluate --help`) (default: "
                             "$EMOTION_NODE_DATA, ':'-separated, else every copy found in "
                             "../shared/data)")
    parser.add_argument("--joint-map", type=Path, default=None, metavar="FILE",
                        help="JSON {\"your joint name\": \"canonical joint name\"} for a lab "
                             "folder whose skeleton no known convention covers")
    parser.add_argument("--out", type=Path, default=None,
                        help="model directory to write (default: models/default)")
    parser.add_argument("--loco", type=Path, default=None, metavar="DIR",
                        help="run the leave-one-content-out study and write its results to DIR")
    parser.add_argument("--visibility", type=Path, default=None, metavar="JSON",
                        help="train with the --folds actions held out (default: bow, dash, "
                             "walk-back, wave-left-hand, raise-up-left-hand) and write their "
                             "accuracy against the number of visible joints to JSON")
    parser.add_argument("--folds", default="",
                        help="with --loco: comma-separated held-out actions (default: all); "
                             "with --visibility: the held-out actions")
    parser.add_argument("--fold-by", choices=("action", "family"), default="action",
                        help="with --loco: hold out one action per fold, or one action family "
                             "(walk, walk-left, walk-turn-right ... together); datasets whose "
                             "clips name their people (Emotion-Gait) are split by person")
    parser.add_argument("--person-split", choices=("walkers", "random"), default="walkers",
                        help="with --loco: person folds hold out whole walkers (default), or "
                             "deal gaits at random (the peers' protocol, for comparison)")
    parser.add_argument("--no-ablation", action="store_true",
                        help="with --loco: skip the model without alignment pre-training")
    parser.add_argument("--no-robustness", action="store_true",
                        help="with --loco: skip scoring the other trackers' joint sets and the "
                             "tracker damage (a seed study needs only the clean figures)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="with --loco: skip the feature baseline")
    parser.add_argument("--compare", type=Path, nargs=2, default=None,
                        metavar=("A_JSON", "B_JSON"),
                        help="compare two studies' results.json on the clips both held out "
                             "(exact McNemar per dataset) and exit")
    parser.add_argument("--neutral-rules", type=Path, default=None, metavar="STUDY_DIR",
                        help="score a prior on normal and an abstain rule on a study's saved "
                             "held-out logits (per dataset) and exit")
    parser.add_argument("--tau", type=float, default=None, metavar="T",
                        help="with --neutral-rules: details (macro-F1, recall per class) of the "
                             "abstain rule at T (the node's default smoothing.neutral_below is "
                             "0.7)")
    parser.add_argument("--person-baseline", type=Path, default=None, metavar="STUDY_DIR",
                        help="read a study's held-out clips (train --loco) against each "
                             "person's baseline (others, neutral, stream) at several "
                             "strengths and print the table (no training)")
    parser.add_argument("--person-baseline-features", action="store_true",
                        help="what a head trained on a window together with the person's "
                             "baseline reads (kinematic features, Emotion-Gait's named walkers, "
                             "walker folds; no model): print the table")
    parser.add_argument("--record-population", type=Path, default=None, metavar="MODEL_DIR",
                        help="record a trained model's population mean over --data in its "
                             "config.json, for the node's person baselines (no training; "
                             "`train` records it for the models it writes)")
    parser.add_argument("--loco-results", type=Path, default=None, metavar="JSON",
                        help="results.json of a study: its calibration temperature and scores "
                             "are stored with the trained model")
    parser.add_argument("--hold-out", default="", metavar="FOLD[,FOLD]",
                        help="train the model without every clip of these study folds (e.g. "
                             "emotion-gait:walkers-1: those walkers become strangers to it, "
                             "for `bench baseline`); recorded as training.held_out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain-steps", type=int, default=None)
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--no-align", action="store_true",
                        help="skip text-aligned pre-training")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a TrainConfig field (JSON value); augment.*, tokenizer.* "
                             "and tokenizer.preprocess.* reach the nested configs, e.g. "
                             "--set augment.reverse_p=0 or --set "
                             "tokenizer.preprocess.window_frames=45 (repeatable)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (use 1 when other jobs share the cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _apply_overrides(cfg, items) -> None:
    """Apply `KEY=VALUE` settings to a TrainConfig (dotted keys reach augment/tokenizer)."""
    from emotion_node.training.data import AugmentConfig
    from emotion_node.model.tokenizer import TokenizerConfig

    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word is a string
        head, _, name = key.rpartition(".")
        target = {"": cfg, "augment": cfg.augment, "tokenizer": cfg.tokenizer,
                  "tokenizer.preprocess": cfg.tokenizer.preprocess}.get(head)
        fields = getattr(target, "__dataclass_fields__", {})
        if target is None or name not in fields or name in ("augment", "tokenizer",
                                                            "preprocess"):
            raise ValueError(f"--set: unknown training setting {key!r}")
        if head == "tokenizer.preprocess":  # PreprocessConfig is frozen
            cfg.tokenizer.preprocess = dataclasses.replace(target, **{name: value})
        else:
            setattr(target, name, value)
    # Rebuild the nested configs so their own checks and normalisation run.
    cfg.augment = AugmentConfig.from_dict(cfg.augment.to_dict())
    cfg.tokenizer = TokenizerConfig.from_dict(cfg.tokenizer.to_dict())


def _train_config(args: argparse.Namespace):
    """The TrainConfig the options describe."""
    from emotion_node.training.train_tokenizer import TrainConfig

    cfg = TrainConfig(seed=args.seed, align=not args.no_align, threads=args.threads)
    _apply_overrides(cfg, args.set)
    if args.pretrain_steps is not None:
        cfg.pretrain_steps = args.pretrain_steps
    if args.finetune_steps is not None:
        cfg.finetune_steps = args.finetune_steps
    if cfg.pretrain_steps < 0 or cfg.finetune_steps < 1:
        raise ValueError(f"need --pretrain-steps >= 0 and --finetune-steps >= 1, got "
                         f"{cfg.pretrain_steps} and {cfg.finetune_steps}")
    return cfg


def _loco_summary(path: Path) -> dict:
    """Calibration temperature and headline scores of a study's results.json."""
    results = json.loads(path.read_text())
    tok = results["variants"]["tokenizer"]
    summary = {key: tok[key] for key in ("clip_accuracy", "window_accuracy", "macro_f1")}
    summary["folds"] = results["folds"]
    temps = tok["calibration"]["temperatures"]
    # The upper median: with an even number of folds, the larger of the two middle fits (one a
    # fold actually fitted, not their mean).
    temperature = float(sorted(temps)[len(temps) // 2])
    return {"loco": summary, "temperature": temperature}


def _fold_list(text: str) -> list:
    """A comma-separated list of folds (`--folds`, `--hold-out`); empty entries dropped."""
    return [h for h in text.split(",") if h]


def _held_out(args: argparse.Namespace) -> list:
    """The actions `--folds` names (empty: the study's default)."""
    return _fold_list(args.folds)


def _held_out_clips(args: argparse.Namespace) -> list:
    """The clip files of the study folds `--hold-out` names; ValueError for a fold that holds
    no clip (a typo must not train on everyone)."""
    from emotion_node.evaluation.loco import fold_keys
    from emotion_node.skeleton.dataset import index_clips

    clips = index_clips(args.data, args.joint_map)
    folds = fold_keys(clips)
    wanted = _fold_list(args.hold_out)
    empty = [f for f in wanted if f not in folds]
    if empty:
        raise ValueError(f"--hold-out {','.join(empty)}: no clip is in such a fold (folds: "
                         f"{', '.join(sorted(set(folds)))})")
    return [c.path for c, f in zip(clips, folds) if f in wanted]


def _run_loco(args: argparse.Namespace, cfg) -> int:
    """The leave-one-content-out study."""
    from emotion_node.evaluation.loco import run_loco
    from emotion_node.evaluation.loco_report import summary_markdown

    held = _held_out(args)
    robustness = {} if not args.no_robustness else {"layouts": (), "damages": ()}
    results = run_loco(args.data, cfg, args.loco, ablation=not args.no_ablation,
                       baseline=not args.no_baseline, held_out=held or None, **robustness,
                       progress=not args.quiet, fold_by=args.fold_by,
                       person_split=args.person_split)
    text = summary_markdown(results)
    (args.loco / "summary.md").write_text(text + "\n")
    print(text)
    print(f"results written to {args.loco}")
    return 0


def _compare(paths) -> int:
    """Two studies side by side on the clips both held out."""
    from emotion_node.evaluation.loco_report import compare_studies

    studies = [json.loads(Path(p).read_text()) for p in paths]
    names = tuple(Path(p).parent.name or str(p) for p in paths)
    print("\n".join(compare_studies(studies[0], studies[1], names=(names[0], names[1]))))
    return 0


def _run_visibility(args: argparse.Namespace, cfg) -> int:
    """Accuracy against the number of visible joints (the node's visibility gate)."""
    from emotion_node.evaluation.visibility import (
        DEFAULT_HELD_OUT, visibility_markdown, visibility_study)

    held = _held_out(args) or list(DEFAULT_HELD_OUT)
    result = visibility_study(args.data, cfg, held_out=held, seed=args.seed,
                              progress=not args.quiet)
    args.visibility.write_text(json.dumps(result, indent=1) + "\n")
    print(visibility_markdown(result))
    print(f"results written to {args.visibility}")
    return 0


def main(args: argparse.Namespace) -> int:
    """Train a model or run the study."""
    try:
        if args.compare is not None:
            return _compare(args.compare)
        if args.neutral_rules is not None:
            from emotion_node.evaluation.neutral_rules import neutral_rules_table

            print("\n".join(neutral_rules_table(args.neutral_rules)))
            if args.tau is not None:
                from emotion_node.evaluation.neutral_rules import rule_details

                print("\n".join(["", *rule_details(args.neutral_rules, tau=args.tau)]))
            return 0
        if args.person_baseline is not None:
            from emotion_node.evaluation.person_baseline_study import study_table

            print("\n".join(study_table(args.person_baseline, args.data)))
            return 0
        if args.person_baseline_features:
            from emotion_node.evaluation.person_baseline_study import kinematic_table

            print("\n".join(kinematic_table(args.data)))
            return 0
        if args.record_population is not None:
            from emotion_node.evaluation.evaluate import model_population

            model_population(args.record_population, args.data, joint_map=args.joint_map)
            print(f"population mean recorded in {args.record_population}/config.json")
            return 0
        cfg = _train_config(args)
        if args.loco is not None:
            return _run_loco(args, cfg)
        if args.visibility is not None:
            return _run_visibility(args, cfg)
        from emotion_node.model.model_files import default_model_dir
        from emotion_node.training.train_tokenizer import train_default

        extra, temperature = {}, 1.0
        if args.loco_results is not None:
            found = _loco_summary(args.loco_results)
            extra["loco"], temperature = found["loco"], found["temperature"]
        out = args.out if args.out is not None else default_model_dir()
        exclude = _held_out_clips(args) if args.hold_out else []
        if exclude:
            extra["held_out"] = _fold_list(args.hold_out)
        path = train_default(args.data, cfg, out, temperature=temperature, extra=extra,
                             progress=not args.quiet, joint_map=args.joint_map,
                             exclude=exclude)
        from emotion_node.evaluation.evaluate import model_population

        model_population(path, args.data, joint_map=args.joint_map,  # for person baselines
                         exclude=exclude)
    except (FileNotFoundError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
        print(f"emotion-node train: {err}", file=sys.stderr)
        return 2
    print(f"model written to {path}")
    return 0
