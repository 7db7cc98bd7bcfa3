"""The functional core's rule for keys sent over plain HTTP (``api.require_https``).

An API key that reached pingd over plain HTTP from an address outside the
box's own networks has crossed a network in clear: the API refuses it, so that
the user learns to revoke it. ``auto`` (the default) judges by the client's
address (loopback, private and link-local ones are trusted); ``always`` and
``never`` override. Pings are never judged: this is for keys only.
"""

from __future__ import annotations

import ipaddress

REQUIRE_HTTPS_MODES = ("auto", "always", "never")


def key_sent_in_clear(mode: str, scheme: str, client: str) -> bool:
    """Tell whether a key arriving with this scheme from this client address must be refused."""
    if mode == "never" or scheme == "https":
        return False
    if mode == "always":
        return True
    try:
        address = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return True  # not an address at all (a Unix socket, say): assume the worst
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_loopback or address.is_private or address.is_link_local)


def clear_key_message(client: str, key: str) -> str:
    """What the refusal says: the key crossed a network in clear, so revoke it."""
    return (f"this API key came over plain HTTP from {client}: it has crossed a network "
            f"unencrypted, so revoke it (pingd key revoke {key[:12]}), make a new one and use "
            "https:// (api.require_https)")  # fmt: skip
