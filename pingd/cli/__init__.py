"""The ``pingd`` command, a module per family of subcommands.

- ``main``: the argument parser, the configuration and ``main`` itself;
- ``common``: the one-line error, tables and opening the database;
- ``serve``, ``keys``, ``checks``, ``channels``, ``backup``: the commands,
  each with the ``add_parsers`` that declares its arguments.
"""
