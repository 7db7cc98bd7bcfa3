"""Healthchecks' checks resources: list, create or upsert, read, update, delete, pause, resume.

Each is a thin translation over the same service calls as ``/v1``: the body is
checked by Healthchecks' rules (``pingd.hcapi.spec``), the service validates
and stores, and the answer is Healthchecks' JSON (``pingd.hcapi.shapes``).
Creating follows Healthchecks: ``unique`` updates the first match (200),
otherwise a check is created (201); v1 and v2 derive the slug from a new
name, v3 keeps it.
"""

from __future__ import annotations

import re

import falcon

from pingd.domain.checks import Check
from pingd.errors import CheckNotFound
from pingd.hcapi.common import READ
from pingd.hcapi.common import WRITE
from pingd.hcapi.common import HcResource
from pingd.hcapi.common import answer
from pingd.hcapi.common import body_of
from pingd.hcapi.common import caller_is_read_only
from pingd.hcapi.common import version_of
from pingd.hcapi.shapes import View
from pingd.hcapi.shapes import check_dict
from pingd.hcapi.shapes import unique_key
from pingd.hcapi.spec import parse_spec

UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# Healthchecks' route for a unique key: 40 characters of [A-z0-9] (its own regex).
UNIQUE_KEY_PATTERN = re.compile(r"[A-z0-9]{40}")


class CheckResource(HcResource):
    """A resource that answers with check JSON: finds checks and builds their view."""

    def view(self, req: falcon.Request) -> View:
        service = self._service
        uuids = {channel.id: channel.uuid for channel in service.list_channels()}
        by_check = {
            check_id: [uuids[channel_id] for channel_id in ids if channel_id in uuids]
            for check_id, ids in service.channel_ids_by_check().items()
        }
        return View(
            base_url=self._base_url,
            version=version_of(req),
            read_only=caller_is_read_only(req),
            now=service.now(),
            badge_secret=service.project().badge_key,
            channel_uuids=by_check,
        )

    def find(self, code: str) -> Check:
        """Return the check with this UUID, or raise CheckNotFound (a 404)."""
        if not UUID_PATTERN.fullmatch(code):
            raise CheckNotFound()
        return self._service.get_check(code)

    def find_by_unique_key(self, key: str) -> Check:
        """Return the check whose unique key this is, or raise CheckNotFound."""
        for check in self._service.list_checks():
            if unique_key(check.uuid) == key:
                return check
        raise CheckNotFound()

    def find_any(self, code: str) -> Check:
        """Find a check by UUID or, as read-only keys name them, by unique key."""
        if UNIQUE_KEY_PATTERN.fullmatch(code):
            return self.find_by_unique_key(code)
        return self.find(code)


class ChecksResource(CheckResource):
    """``checks/``: list (``?tag=`` all must match, ``?slug=``), create or upsert."""

    access = {"GET": READ, "POST": WRITE}
    cors = ("GET", "POST")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = self._service.list_checks(
            tags=req.get_param_as_list("tag") or (), slug=req.get_param("slug") or None
        )
        view = self.view(req)
        answer(resp, {"checks": [check_dict(check, view) for check in checks]})

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        spec = parse_spec(body_of(req), self._service.list_channels)
        check, created = self._service.upsert_check(
            spec.fields, spec.unique, first_match=True, slug_from_name=version_of(req) < 3
        )
        answer(resp, check_dict(check, self.view(req)), 201 if created else 200)


class SingleResource(CheckResource):
    """``checks/<uuid>`` (or a read-only key's ``<unique_key>``): read, update, delete."""

    access = {"GET": READ, "POST": WRITE, "DELETE": WRITE}
    cors = ("POST", "DELETE", "GET")

    def on_get(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        answer(resp, check_dict(self.find_any(code), self.view(req)))

    def on_post(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        check = self.find(code)
        spec = parse_spec(body_of(req), self._service.list_channels)
        updated = self._service.update_check(
            check.id, spec.fields, slug_from_name=version_of(req) < 3
        )
        answer(resp, check_dict(updated, self.view(req)))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        check = self.find(code)
        data = check_dict(check, self.view(req))
        self._service.delete_check(check.id)
        answer(resp, data)


class PauseResource(CheckResource):
    """``checks/<uuid>/pause``: idempotent; no alerts until pinged or resumed."""

    access = {"POST": WRITE}
    cors = ("POST",)

    def on_post(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        check = self._service.pause_check(self.find(code).id)
        answer(resp, check_dict(check, self.view(req)))


class ResumeResource(CheckResource):
    """``checks/<uuid>/resume``: 409 "check is not paused" unless it is."""

    access = {"POST": WRITE}
    cors = ("POST",)

    def on_post(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        check = self._service.resume_check(self.find(code).id)
        answer(resp, check_dict(check, self.view(req)))
