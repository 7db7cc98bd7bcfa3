"""SQLite storage: one function per query, on any connection, a module per family.

Writes run on the writer's connection (``pingd.writer``), where the ping
path's writes may be staged and sent a group at a time; reads run on a pooled
reader. Each family of tables has its module: ``projects`` (and API keys),
``checks``, ``pings``, ``flips``, ``channels`` (and their links to checks),
``deliveries`` (and their attempts); ``database`` holds the queries over all
of them and ``backup`` the online copy. ``times`` and ``staging`` are what the
families share, and the only modules of this package a family may import.
Nothing is re-exported here: import each name from the module that defines it.
"""
