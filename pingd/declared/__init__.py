"""Checks and channels declared in the config files: ``parse``, ``plan`` and ``export``.

Pure but for reading the files; the service applies a plan in one
transaction (``pingd.service.declared``).
"""
