"""Compare structured-generation libraries on this node's job: one new grammar per explanation.

For real windows (the window table's emotion windows, the tokenizer head's label, the reading
taken as that label), each library builds the constraint for the window's answer grammar
(`answer_grammar.answer_language`) against the LLM's tokenizer, then walks one answer of that
grammar token by token, computing the allowed-token mask before each token as generation would.
Printed per library: milliseconds to build a window's constraint (what a node pays per
explanation before the first token), microseconds per mask (per generated token), and whether
every token of the answer was allowed (a library that rejects a valid answer is wrong for this
job). One-time setup (the tokenizer's tables) is timed apart. A library that is not installed
or cannot run with this transformers version is reported as such.

    emotion-node bench grammar [--windows 20] [--json FILE]
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from emotion_node.model.answer_grammar import (
    Alt, AnswerConstraint, Node, Seq, allowed_tokens, answer_language, matcher_for, sample,
    to_regex)

LIBRARIES = ("llguidance", "xgrammar", "outlines-core", "transformers-cfg",
             "lm-format-enforcer")


def _ebnf(node: Node) -> str:
    """The language in GBNF (transformers-cfg's grammar format)."""
    if isinstance(node, str):
        return '"' + node.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, Seq):
        return " ".join(_ebnf(p) for p in node.parts)
    assert isinstance(node, Alt)
    return "(" + " | ".join(_ebnf(o) for o in node.options) + ")"


class _Run:
    """One library's matcher over one grammar: `mask()` then `accept(token)` per step."""

    def mask(self) -> np.ndarray:
        """(V,) bool: the tokens the grammar allows next."""
        raise NotImplementedError

    def accept(self, token: int) -> bool:
        """Advance by `token`; False when the grammar rejects it."""
        raise NotImplementedError


def _llguidance(tokenizer: Any, vocab: int, stop: list[int]) -> Callable[[Node], _Run]:
    """The node's own constraint (`answer_grammar`): its tokenizer, matcher and mask."""
    lltok = AnswerConstraint.tokenizer_of(tokenizer, stop)

    class Run(_Run):
        def __init__(self, language: Node) -> None:
            self.m = matcher_for(to_regex(language), lltok)

        def mask(self) -> np.ndarray:
            return allowed_tokens(self.m, vocab)

        def accept(self, token: int) -> bool:
            return bool(self.m.consume_token(token))

    return Run


def _xgrammar(tokenizer: Any, vocab: int, stop: list[int]) -> Callable[[Node], _Run]:
    import xgrammar as xgr

    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab, stop_token_ids=stop)
    compiler = xgr.GrammarCompiler(info, cache_enabled=False)

    class Run(_Run):
        def __init__(self, language: Node) -> None:
            self.m = xgr.GrammarMatcher(compiler.compile_regex(to_regex(language)))
            self.bitmask = xgr.allocate_token_bitmask(1, vocab)

        def mask(self) -> np.ndarray:
            self.m.fill_next_token_bitmask(self.bitmask)
            bits = self.bitmask[0].numpy().view(np.uint8)
            return np.unpackbits(bits, bitorder="little")[:vocab].astype(bool)

        def accept(self, token: int) -> bool:
            return bool(self.m.accept_token(token))

    return Run


def _outlines(tokenizer: Any, vocab: int, stop: list[int]) -> Callable[[Node], _Run]:
    import outlines_core

    table: dict[str, list[int]] = {}
    for token_id in range(vocab):
        if token_id in stop:
            continue
        text = tokenizer.decode([token_id])
        if text and "\ufffd" not in text:
            table.setdefault(text, []).append(token_id)
    vocabulary = outlines_core.Vocabulary(stop[0], table)

    class Run(_Run):
        def __init__(self, language: Node) -> None:
            self.index = outlines_core.Index(to_regex(language), vocabulary)
            self.state = self.index.get_initial_state()

        def mask(self) -> np.ndarray:
            allowed = np.zeros(vocab, dtype=bool)
            allowed[self.index.get_allowed_tokens(self.state)] = True
            return allowed

        def accept(self, token: int) -> bool:
            state = self.index.get_next_state(self.state, token)
            if state is None:
                return False
            self.state = state
            return True

    return Run


def _transformers_cfg(tokenizer: Any, vocab: int, stop: list[int]) -> Callable[[Node], _Run]:
    import torch
    from transformers_cfg.grammar_utils import IncrementalGrammarConstraint

    class Run(_Run):
        def __init__(self, language: Node) -> None:
            self.c = IncrementalGrammarConstraint(f"root ::= {_ebnf(language)}", "root",
                                                  tokenizer)
            self.ids: list[int] = []
            self.stacks = None

        def mask(self) -> np.ndarray:
            ids = torch.tensor([[0] + self.ids])
            self.stacks = self.c.advance_token_ids(ids, self.stacks) if self.stacks else \
                self.c.init_stacks()
            acceptance = self.c.batch_filter_vocab(self.stacks, ids.device)
            return acceptance[0].numpy()[:vocab].astype(bool)

        def accept(self, token: int) -> bool:
            self.ids.append(token)
            return True

    return Run


def _lm_format_enforcer(tokenizer: Any, vocab: int, stop: list[int]) -> Callable[[Node], _Run]:
    from lmformatenforcer import RegexParser, TokenEnforcer
    from lmformatenforcer.integrations.transformers import (
        build_token_enforcer_tokenizer_data)

    data = build_token_enforcer_tokenizer_data(tokenizer)

    class Run(_Run):
        def __init__(self, language: Node) -> None:
            self.e = TokenEnforcer(data, RegexParser(to_regex(language)))
            self.ids: list[int] = []

        def mask(self) -> np.ndarray:
            allowed = np.zeros(vocab, dtype=bool)
            allowed[self.e.get_allowed_tokens(self.ids)] = True
            return allowed

        def accept(self, token: int) -> bool:
            self.ids.append(token)
            return True

    return Run


SETUPS = {"llguidance": _llguidance, "xgrammar": _xgrammar, "outlines-core": _outlines,
          "transformers-cfg": _transformers_cfg, "lm-format-enforcer": _lm_format_enforcer}


def measure(windows: int = 20, libraries: tuple[str, ...] = LIBRARIES,
            model_dir: Optional[Path] = None, max_build_s: float = 60.0) -> list[dict]:
    """One row per library over `windows` real windows (the answer walked: a random member
    of each window's grammar, the same for every library). A library whose build passes
    `max_build_s` on one window stops there (its figure is then over fewer windows)."""
    from transformers import AutoTokenizer

    from emotion_node.bench.llm import _inputs
    from emotion_node.model.explainer import ExplainerConfig
    from emotion_node.model.explanations import CueReference
    from emotion_node.model.llm import resolve_llm
    from emotion_node.model.model_files import (
        EXPLAINER_CONFIG_FILE, default_explainer_dir, default_model_dir)

    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    config = ExplainerConfig.from_dict(json.loads(
        (default_explainer_dir(model_dir) / EXPLAINER_CONFIG_FILE).read_text(encoding="utf-8")))
    reference = CueReference.from_dict(config.reference)
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_llm(config.llm)))
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    stop = sorted({int(tokenizer.eos_token_id)} | ({end} if isinstance(end, int) else set()))
    rng = np.random.default_rng(0)
    languages = [answer_language(label, reference.zscores(cues, content), label)
                 for _, label, cues, content in _inputs(model_dir, windows)]
    return compare(languages, tokenizer, libraries, stop, rng, max_build_s)


def compare(languages: list[Node], tokenizer: Any, libraries: tuple[str, ...],
            stop: list[int], rng: np.random.Generator, max_build_s: float = 60.0
            ) -> list[dict]:
    """One row per library over the grammars (`measure`), `tokenizer` the LLM's."""
    vocab = len(tokenizer)
    cases = [(language, tokenizer(sample(language, rng), add_special_tokens=False)["input_ids"])
             for language in languages]
    rows = []
    for name in libraries:
        row: dict[str, Any] = {"library": name}
        try:
            start = time.perf_counter()
            make = SETUPS[name](tokenizer, vocab, stop)
            row["setup_s"] = round(time.perf_counter() - start, 3)
        except Exception as err:  # noqa: BLE001 - any failure to set up is the finding
            row["error"] = f"{type(err).__name__}: {err}"[:300]
            rows.append(row)
            continue
        builds: list[float] = []
        masks: list[float] = []
        rejected = done = 0
        try:
            for language, ids in cases:
                start = time.perf_counter()
                run = make(language)
                builds.append(time.perf_counter() - start)
                for token in ids:
                    start = time.perf_counter()
                    allowed = run.mask()
                    masks.append(time.perf_counter() - start)
                    if not allowed[token] or not run.accept(token):
                        rejected += 1
                        break
                done += 1
                if builds[-1] > max_build_s:
                    break
        except Exception as err:  # noqa: BLE001 - a library that fails here is the finding
            row["error"] = f"{type(err).__name__}: {err}"[:300]
            rows.append(row)
            continue
        row.update(windows=done, build_ms_mean=round(1e3 * float(np.mean(builds)), 2),
                   build_ms_max=round(1e3 * float(np.max(builds)), 2),
                   mask_us_mean=round(1e6 * float(np.mean(masks)), 1),
                   mask_us_p99=round(1e6 * float(np.percentile(masks, 99)), 1),
                   answers_rejected=rejected,
                   regex_chars_mean=int(np.mean([len(to_regex(c[0])) for c in cases[:done]])))
        rows.append(row)
    return rows


def print_rows(rows: list[dict]) -> None:
    """One readable line per library."""
    for row in rows:
        if "error" in row:
            print(f"{row['library']:>18}: cannot run here ({row['error']})")
            continue
        print(f"{row['library']:>18}: setup {row['setup_s']:.2f} s; per window build "
              f"{row['build_ms_mean']:.1f} ms (max {row['build_ms_max']:.1f}); per token mask "
              f"{row['mask_us_mean']:.0f} us (p99 {row['mask_us_p99']:.0f}); valid answers "
              f"rejected {row['answers_rejected']} of {row['windows']}")
