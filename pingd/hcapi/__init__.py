"""The Healthchecks-compatible face: its management API, badges and Prometheus metrics.

A second set of resources over the same service as ``/v1`` (see
docs/architecture.md): ``common`` (keys, CORS, errors), ``spec`` (the create
and update body), ``shapes`` (the JSON), ``checks``, ``history``, ``badges``,
``metrics`` and ``project`` (its resources and the table of every route).
"""
