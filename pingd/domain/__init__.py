"""The functional core: what pingd decides, as pure functions of their arguments and ``now``.

- ``checks``: checks, pings and flips: status, deadlines, the kind of a ping
  and the state it leads to (the module the others build on);
- ``check_input``: check fields from the management API, validated;
- ``alerts``: channels, deliveries, an alert's content and its retries.
"""
