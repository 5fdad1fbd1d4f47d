"""Score a trained tokenizer on every clip of a dataset-like folder (no training).

Clips are cut into the same sliding windows the node sees; a clip's prediction is the mean of its
windows' probabilities. A clip counts when its dataset's label table gives it an emotion among the
model's labels; expressive styles and files of no known dataset are skipped and counted.
For the leave-one-content-out study (which trains), use `emotion-node train --loco DIR`.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node evaluate`."""
    parser.add_argument("--data", type=Path, nargs="+", action="extend", required=True,
                        metavar="DIR",
                        help="folders to score together: a Bandai dataset (dataset-N_* BVH "
                             "clips, optional cfg/), Emotion-Gait (gaits/ and its labels.csv), "
                             "or a lab's own recordings: motion files (.bvh of any common mocap "
                             "skeleton, SMPL .npz/.npy) with a labels.csv of file,label and "
                             "optional action,person columns (label: the model's label words, "
                             "neutral for normal)")
    parser.add_argument("--joint-map", type=Path, default=None, metavar="FILE",
                        help="JSON {\"your joint name\": \"canonical joint name\"} for a "
                             "skeleton no known convention covers")
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory (default: the committed models/default)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write the full result (per-clip predictions included) here")
    parser.add_argument("--stride", type=float, default=0.5,
                        help="seconds between window ends (default 0.5)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--baseline", choices=("off", "others", "neutral", "stream"),
                        default="off",
                        help="also read each clip whose person is known (Emotion-Gait's "
                             "walkers, a person column in labels.csv) against that person's "
                             "baseline: the mean of their other clips (others), of their "
                             "neutral clips (neutral), or of the clips before it in take order "
                             "with the node's running rule (stream); scores with and without, "
                             "a paired test, and each clip's predicted_relative in the JSON")
    parser.add_argument("--baseline-strength", type=float, default=None, metavar="S",
                        help="how much of the person's offset the relative reading removes, "
                             "0 to 1 (default: the node's people.baseline_strength default)")
    parser.add_argument("--baseline-min-s", type=float, default=None, metavar="S",
                        help="with --baseline stream: seconds of a person's clips before "
                             "their baseline is used (default: the node's)")
    parser.add_argument("--llm", action="store_true",
                        help="also score the LLM explainer: its own reading of the emotion "
                             "(llm_clip_accuracy: a clip's label of highest mean probability, "
                             "as for the tokenizer; llm_window_accuracy), its agreement with "
                             "the tokenizer head, and its explanations of the head's labels: "
                             "faithfulness, silent clashes with the label's movement signature "
                             "(label_cue_clashes), the share word for word the plain template "
                             "(same_as_template), distinct bigrams (distinct_2), the share of "
                             "published answers the LLM wrote (llm_written_share) and the "
                             "faithfulness of its own answers before any fallback "
                             "(llm_own_faithfulness)")
    parser.add_argument("--explainer", type=Path, default=None, metavar="DIR",
                        help="explainer folder for --llm (default: MODEL/explainer)")
    parser.add_argument("--llm-max-windows", type=int, default=0, metavar="N",
                        help="with --llm, score at most N windows spread over the folder "
                             "(0: all; each window costs the LLM two generations)")


def main(args: argparse.Namespace) -> int:
    """Evaluate and print the headline figures."""
    for folder in args.data:
        if not folder.is_dir():
            print(f"emotion-node evaluate: --data {folder} is not a directory", file=sys.stderr)
            return 2
    if args.stride <= 0:
        print(f"emotion-node evaluate: --stride must be > 0, got {args.stride}", file=sys.stderr)
        return 2
    import torch

    from emotion_node.evaluation.evaluate import evaluate_folder
    from emotion_node.model.person_baseline import BaselineConfig

    torch.set_num_threads(max(1, args.threads))
    try:
        given = {"strength": args.baseline_strength, "min_s": args.baseline_min_s}
        baseline_config = replace(BaselineConfig(), **{k: v for k, v in given.items()
                                                       if v is not None}).check()
        result = evaluate_folder(args.data, args.model, stride_s=args.stride,
                                 joint_map=args.joint_map, baseline=args.baseline,
                                 baseline_config=baseline_config)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"emotion-node evaluate: {err}", file=sys.stderr)
        return 2
    print(f"clips {result['num_clips']} (skipped {result['skipped']}: "
          f"{result['skipped_other_styles']} of styles without an emotion label, "
          f"{len(result['skipped_unknown_names'])} with unknown file names), windows "
          f"{result['num_windows']}: clip accuracy {result['clip_accuracy']:.3f}, window "
          f"accuracy {result['window_accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}")
    for key, part in result["per_dataset"].items():
        rate = part["false_emotion_rate"]
        print(f"  {key}: {part['num_clips']} clips, clip accuracy {part['clip_accuracy']:.3f}, "
              f"window accuracy {part['window_accuracy']:.3f}, false-emotion rate "
              f"{'n/a' if rate is None else f'{rate:.3f}'}")
        if "restricted" in part:
            sub = part["restricted"]
            print(f"    among its own labels ({', '.join(sub['labels'])}): clip accuracy "
                  f"{sub['clip_accuracy']:.3f}, macro-F1 {sub['macro_f1']:.3f}, normal "
                  f"recall {_share(sub['per_class_recall'].get('normal'))}")
    if "person_baseline" in result:
        _print_baseline(result["person_baseline"])
    if args.llm:
        try:
            result.update(_score_llm(args))
        except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
            print(f"emotion-node evaluate --llm: {err}", file=sys.stderr)
            return 2
        print(f"LLM on {result['llm']['windows']} windows: clip accuracy "
              f"{result['llm_clip_accuracy']:.3f}, window accuracy "
              f"{result['llm_window_accuracy']:.3f}, agreement with the tokenizer head "
              f"{result['agreement']:.3f}, faithfulness {_share(result['faithfulness'])}, "
              f"silent clashes {result['label_cue_clashes']}, same as the template "
              f"{result['same_as_template']:.3f}, distinct bigrams {result['distinct_2']:.3f}, "
              f"written by the LLM {result['llm_written_share']:.3f}, the LLM's own "
              f"faithfulness {_share(result['llm_own_faithfulness'])}")
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        except OSError as err:
            print(f"emotion-node evaluate: cannot write {args.json}: {err}", file=sys.stderr)
            return 2
        print(f"written to {args.json}")
    return 0


def _print_baseline(part: dict) -> None:
    """The person-relative reading beside the absolute one, on the clips with a baseline."""
    def line(what: str, section: dict) -> str:
        a, r, test = section["absolute"], section["relative"], section["paired"]
        rate = (f", false-emotion rate {_share(a['false_emotion_rate'])} -> "
                f"{_share(r['false_emotion_rate'])}" if a["false_emotion_rate"] is not None
                else "")
        return (f"  {what}: clip accuracy {a['clip_accuracy']:.3f} -> {r['clip_accuracy']:.3f}"
                f"{rate}; right only with the baseline {test['relative_right_absolute_wrong']}, "
                f"only without {test['absolute_right_relative_wrong']} (exact McNemar p "
                f"{test['p_exact_mcnemar']:.3f})")

    print(f"person baseline ({part['mode']}, strength {part['strength']:g}): "
          f"{part['clips_with_baseline']} clips have one, {part['clips_without_baseline']} "
          f"keep the absolute reading; population from {part['population']}")
    print(line("labels", part))
    if "acted" in part:
        print(line(f"acted emotion ({part['acted']['clips']} clips)", part["acted"]))


def _share(value) -> str:
    """A fraction for the summary line; 'n/a' when nothing could be judged."""
    return "n/a (no movement claims)" if value is None else f"{value:.3f}"


def _score_llm(args: argparse.Namespace) -> dict:
    """The `--llm` keys: the LLM's own answers and its explanations of the head's labels."""
    from emotion_node.evaluation.evaluate_llm import evaluate_llm

    report = evaluate_llm(args.explainer, args.model, args.data, whole_folder=True,
                          modes=("explain_label", "recognise"),
                          max_windows=args.llm_max_windows, threads=max(1, args.threads),
                          stride_s=args.stride)
    headline = ("llm_clip_accuracy", "llm_window_accuracy", "agreement", "faithfulness",
                "same_as_template", "label_cue_clashes", "distinct_2", "llm_written_share",
                "llm_own_faithfulness")
    return {**{key: report.pop(key) for key in headline}, "llm": report}
