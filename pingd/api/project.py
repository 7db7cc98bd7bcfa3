"""The project family of the management API: health, the project, the OpenAPI document.

Answers ``/v1/status`` after a database round trip, shows the project with its
ping key and the base of its ping URLs, and serves the OpenAPI document it is
given (built by pingd.openapi; this module does not build or import it). It
must not know checks or channels, nor import the other family modules of this
package.
"""

from __future__ import annotations

from typing import Any

import falcon

from pingd import __version__
from pingd.api.common import NONE
from pingd.api.common import READ
from pingd.api.common import Resource
from pingd.api.common import logger
from pingd.api.common import ok
from pingd.api.common import service_of
from pingd.errors import PingdError


class StatusResource(Resource):
    access = {"GET": NONE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            service_of(req).check_database()
        except Exception as ex:
            logger.exception("status: the database did not answer")
            raise PingdError("the database is not answering") from ex
        ok(req, resp, {"status": "ok", "version": __version__})


class ProjectResource(Resource):
    access = {"GET": READ}

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        project = service_of(req).project()
        data = {
            "name": project.name,
            "ping_key": project.ping_key,
            "ping_url_base": f"{self._base_url}/ping/",
            "uuid": project.uuid,
            # Add a read-only API key to scrape it (Healthchecks' Prometheus URL).
            "metrics_url_base": f"{self._base_url}/projects/{project.uuid}/metrics/",
        }
        ok(req, resp, data)


class OpenApiResource(Resource):
    access = {"GET": NONE}

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._document
