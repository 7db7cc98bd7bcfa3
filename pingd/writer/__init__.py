"""The single-writer layer: the database's connections, the writer thread and the readers.

Every write in the process runs in one writer thread, a group of writes to a
transaction, and reads use a small pool of connections beside it (see
``pingd.writer.store``). ``pingd.writer.connection`` opens connections and
holds the writer's own (what it remembers of checks, what it has staged).
This layer knows no query of pingd's: those are ``pingd.store``'s, whose
functions it runs. Nothing is re-exported here: import each name from the
module that defines it.
"""
