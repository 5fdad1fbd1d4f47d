"""One module per `emotion-node` subcommand: `add_arguments(parser)` and `main(args) -> int`."""
