"""Label flicker: the node's pipeline over replayed real clips, smoothing on and off."""
from emotion_node.bench import flicker
from emotion_node.skeleton.dataset import index_clips


def test_flicker_counts_label_changes(model_dir):
    clips = [(c.path, c.style) for c in index_clips() if c.content == 'bow' and c.style in
             flicker.FLICKER_STYLES]
    rows = flicker.flicker(str(model_dir), 'onnxruntime', {'bow': clips})
    assert [r['smoothing'] for r in rows] == [True, False]
    on, off = rows
    assert on['minutes'] == off['minutes'] > 0.3  # seven people, several seconds each
    assert on['ticks'] == off['ticks'] > 100
    assert on['changes_per_min'] <= off['changes_per_min']
    assert 0.0 <= on['tick_accuracy'] <= 1.0 and on['count'] == 7
