"""`emotion-node bench soak`, two minutes of it: real DDS, real clips, the LLM on, people coming
and going. It asserts what holds on any machine (no crash, every message accounted for, ids
that vanish and return, memory and descriptors that do not grow), never how fast."""
import json

import pytest

from emotion_node import cli

DOMAIN_ID = 49
PERSONS, MINUTES, WARMUP_S, CHURN_S = 10, 2, 20, 10


@pytest.mark.integration
def test_two_minutes_with_people_coming_and_going(tmp_path, capsys):
    out = tmp_path / 'soak.json'
    assert cli.main(['bench', 'soak', '--persons', str(PERSONS), '--minutes', str(MINUTES),
                     '--warmup', str(WARMUP_S), '--churn', str(CHURN_S), '--slice-minutes', '1',
                     '--domain-id', str(DOMAIN_ID), '--json', str(out)]) == 0
    report = json.loads(out.read_text())
    assert not report['crashed'] and report['exit_code'] == 0
    assert report['sent'] == (WARMUP_S + 60 * MINUTES) * 30
    assert report['published'] == 60 * MINUTES * 30  # the measured part
    # Every message reached a buffer or is counted as dropped; states answered the rest.
    assert 0 <= report['dropped'] <= report['sent'] // 20
    where = report['dropped_where']  # and where: the parts add up to the total
    assert where['never_received'] + where['queue_full'] + sum(where['rejected'].values()) == \
        report['dropped'] and 0 <= where['missed_by_sequence'] <= where['never_received']
    assert report['unanswered'] <= report['published'] // 100
    assert [s['minute'] for s in report['slices']] == [0, 1]
    assert all(s['messages'] > 0 and s['p50_ms'] <= s['p99_ms'] for s in report['slices'])
    ids = report['ids']
    assert ids['arrivals'] >= 10 and ids['returned'] >= 1 and ids['seen'] > PERSONS
    # Those present, plus at most the ones who just left (reported lost before removal).
    assert PERSONS <= report['persons_tracked_at_end'] <= PERSONS + PERSONS // 6
    rss, fds = report['rss_mb'], report['open_fds']
    assert rss['end'] - rss['start'] < 30 and rss['max'] - rss['start'] < 50, rss
    assert fds['end'] - fds['start'] <= 2, fds
    llm = report['llm_counters']
    assert llm['state'] in ('ready', 'generating') and llm['failed'] == '0', llm
    assert int(llm['submitted']) >= 1 and report['explainer_rss_mb']['start'] > 100
    assert 'crashed: False' in capsys.readouterr().out
