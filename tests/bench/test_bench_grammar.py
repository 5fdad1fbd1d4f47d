"""The structured-generation comparison, on the tiny tokenizer: every installed library builds
each window's constraint and allows every token of a valid answer."""
import numpy as np
import pytest


def test_the_comparison_walks_valid_answers_through_each_library(tiny_llm):
    pytest.importorskip("llguidance")
    from transformers import AutoTokenizer

    from emotion_node.bench.grammar import LIBRARIES, compare, print_rows
    from emotion_node.model.answer_grammar import answer_language

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_llm.dir))
    rng = np.random.default_rng(0)
    languages = [answer_language(style, rng.normal(0, 1.5, (3, 7)), "happy")
                 for style in ("sad", "normal", "angry")]
    rows = compare(languages, tokenizer, LIBRARIES, [tokenizer.eos_token_id], rng)
    assert [r["library"] for r in rows] == list(LIBRARIES)
    ours = rows[0]
    assert ours["library"] == "llguidance" and "error" not in ours, ours
    assert ours["windows"] == 3 and ours["answers_rejected"] == 0
    assert ours["build_ms_mean"] > 0 and ours["mask_us_mean"] > 0
    for row in rows[1:]:  # the others: measured where installed, else the reason
        assert "error" in row or row["answers_rejected"] == 0, row
    print_rows(rows)
