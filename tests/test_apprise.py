"""The apprise channel, through the real Apprise library (the optional extra)."""

from __future__ import annotations

import json
from pathlib import Path

from receivers import http_receiver

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.service.pings import PingRequest


def test_it_delivers_an_alert_through_apprise_to_a_json_endpoint(tmp_path: Path) -> None:
    config = default_config(
        storage__path=str(tmp_path / "pingd.db"), server__base_url="https://pingd.example.org"
    )
    store = open_store(config)
    try:
        service = make_service(config, store, notifier=make_notifier(config))
        service.bootstrap()
        with http_receiver() as receiver:
            # Apprise's json:// notifier POSTs {"title", "message", ...} to the URL.
            url = receiver.url.replace("http://", "json://") + "/apprise"
            channel = service.create_channel("apprise", "apprise", {"url": url})
            check = service.create_check(name="Nightly backup", channels=[channel.id])
            service.record_ping(
                PingRequest(
                    action="fail", method="POST", scheme="http", remote_addr="127.0.0.1",
                    ua="t", body=b"disk full", body_size=9, uuid=check.uuid,
                )
            )  # fmt: skip
            (delivery,) = service.due_deliveries()
            outcome = service.deliver(delivery)
            assert outcome.ok, outcome.error
            (request,) = receiver.requests
        assert (request.method, request.path) == ("POST", "/apprise")
        payload = json.loads(request.body)
        assert payload["title"] == '"Nightly backup" is DOWN'
        assert "Why: the job reported failure" in payload["message"]
        assert "disk full" in payload["message"]
        assert f"https://pingd.example.org/checks/{check.uuid}" in payload["message"]
        # The channel's settings are a secret: the API and the CLI show them masked.
        assert service.masked_settings(channel)["url"] != url
    finally:
        store.close()
