"""`emotion-node explain`: arguments and errors (the windows' explanations: tests/runtime)."""


def test_explain_command_rejects_non_bvh(tmp_path, capsys):
    import argparse

    from emotion_node.commands import explain

    parser = argparse.ArgumentParser()
    explain.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "people.mcap")])
    assert explain.main(args) == 2
    assert "people.mcap" in capsys.readouterr().err
