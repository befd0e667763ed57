"""The ``lunar`` command line, the top layer: one module per subcommand and ``main.main``, the
entry point (pyproject.toml's ``[project.scripts]``; also ``python -m training.commands``)."""
