"""Use cases: each loads state, asks the domain what to do, and writes the result.

Every write goes through ``Store.write`` (one transaction in the single writer
thread) and reads through ``Store.read``. The service takes the time once per
use case from the injected clock.

The use cases live by family, each a class over the shared ``ServiceCore``
(``pingd.service.core``): ``keys`` (the project and its API keys),
``checks``, ``pings``, ``channels``, ``alerts`` (deliveries) and ``sessions``
(signed-in browsers), ``declared`` (what the config files declare) and
``windows`` (maintenance windows); ``policy`` is the alert policy the
pings and alerts families carry out in their writes. ``Service``
is all of them over one store; nothing else is defined or re-exported here.
"""

from __future__ import annotations

from pingd.service.alerts import AlertsService
from pingd.service.channels import ChannelsService
from pingd.service.checks import ChecksService
from pingd.service.declared import DeclaredService
from pingd.service.keys import KeysService
from pingd.service.pings import PingsService
from pingd.service.sessions import SessionsService
from pingd.service.windows import WindowsService


class Service(
    KeysService, ChecksService, PingsService, ChannelsService, AlertsService, SessionsService,
    DeclaredService, WindowsService,
):  # fmt: skip
    """pingd's use cases over one store, clock and set of limits."""
