"""`emotion-node demo`: starts the node and a replay, prints the stream, stops what it started."""
import re

DOMAIN_ID = 71


def test_demo_prints_people_and_labels_then_stops_everything(run_demo):
    done, leftovers = run_demo(['--duration', '6', '--people', '3', '--llm', 'off'], DOMAIN_ID,
                               timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert '1: sad walk, 2: happy walk, 3: angry walk' in out
    labels = re.findall(r'person (\d) \([a-z-]+ walk\)\s+(\w+)\s+(\d+)%', out)
    assert {who for who, _, _ in labels} == {'1', '2', '3'}, out
    assert 'EmotionState messages. Labels while tracked:' in out
    assert leftovers == [], leftovers
