"""LLM loading (cache folder, sources) and the one slow test: real SmolLM2 + committed adapter."""

import pytest

from emotion_node.cache import CACHE_ENV, cache_root
from emotion_node.model import llm


def test_every_cache_follows_the_environment(monkeypatch, tmp_path):
    from emotion_node.training.text_encoder import _cache_dir as text_cache
    from emotion_node.runtime.tensorrt_engine import engine_path
    from emotion_node.skeleton.dataset import default_cache_dir as clip_cache

    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "emotion_node"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own"
    gguf = tmp_path / "x.gguf"
    gguf.write_bytes(b"x")
    for cache in (text_cache(), engine_path("key").parent, clip_cache(),
                  llm._converted_dir(gguf).parent):  # one home for every room
        assert cache == tmp_path / "own" or cache.parent == tmp_path / "own", cache


def test_resolve_llm_sources(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        llm.resolve_llm(folder)
    (folder / "config.json").write_text("{}")
    assert llm.resolve_llm(folder) == folder
    assert llm.resolve_llm(str(folder)) == folder
    with pytest.raises(FileNotFoundError, match="nowhere"):
        llm.resolve_llm(tmp_path / "nowhere")


def test_converted_gguf_is_reused_without_loading(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    fake = tmp_path / "tiny.gguf"
    fake.write_bytes(b"not really a gguf")
    target = llm._converted_dir(fake)
    assert target.parent == tmp_path / "cache" / "llm" and target.name == "tiny-17"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    assert llm.resolve_llm(fake) == target  # would fail to parse if it tried to convert
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        llm.convert_gguf(tmp_path / "missing.gguf")


def test_packaged_gguf_is_found():
    path = llm.default_gguf_path()
    assert path.name == llm.GGUF_FILE and path.stat().st_size > 50_000_000


@pytest.mark.integration
def test_real_llm_explains_a_real_window():
    """Slow (about 30 s the first time: GGUF conversion): SmolLM2 + the committed adapter."""
    import torch

    from emotion_node.model.explainer import Explainer
    from emotion_node.model.explanations import check_explanation
    from emotion_node.model.model_files import default_model_dir
    from emotion_node.model.tokenizer import load_tokenizer
    from emotion_node.model.model_files import tokenizer_fingerprint
    from emotion_node.skeleton.cues import span_cues
    from emotion_node.skeleton.dataset import index_clips, load_clip
    from emotion_node.skeleton.preprocess import clip_windows, preprocess_window

    torch.set_num_threads(2)
    model_dir = default_model_dir()
    explainer = Explainer.load(model_dir / "explainer")
    assert explainer.config.training["tokenizer"] == tokenizer_fingerprint(model_dir), \
        "the committed explainer was trained on another tokenizer: retrain it"
    tokenizer, config = load_tokenizer(model_dir)
    clip = next(c for c in index_clips() if c.content == "walk" and c.style == "sad"
                and c.dataset == "dataset-1")
    positions, mask, fps = load_clip(clip)
    windows, masks, _ = clip_windows(positions, mask, fps, config.preprocess)
    x, m = preprocess_window(windows[0], masks[0], config.preprocess)
    with torch.no_grad():
        _, *tokens = tokenizer(torch.from_numpy(x)[None], torch.from_numpy(m).float()[None])
    cues = span_cues(windows[0], masks[0], config.preprocess.fps)
    answer = explainer.explain([t[0] for t in tokens], label="sad", cues=cues,
                               content=clip.action_key)
    text, z = answer.text, explainer.zscores(cues, clip.action_key)
    check = check_explanation(text, "sad", z, answer.reading)
    assert check.stated_label == "sad" and answer.reading in explainer.config.labels, text
    assert not check.degenerate and not check.contradictions and not check.clashes, text
    assert check.held == check.claims >= 1, text
