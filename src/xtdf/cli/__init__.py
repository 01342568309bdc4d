"""The ``xtdf`` command line: one subcommand module per area."""
