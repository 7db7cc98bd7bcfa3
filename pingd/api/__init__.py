"""The management API under ``/v1``: JSON in and out, in the ``{data, requestId}`` envelope.

``ApiMiddleware`` gives every request a requestId, identifies the API key,
applies the rate limit, checks each resource's access level, picks the real or
the developer-mode service, and writes one log line. Resources only parse,
call the service and serialise; errors are raised and rendered by app.py.

The modules, one per family, each importing only ``common``:

- ``common``: the envelope, JSON bodies, access levels and the resource base;
- ``middleware``: keys, rate limiting, developer mode, request ids, the log line;
- ``checks``: checks, pausing and resuming, their pings and flips;
- ``channels``: notification channels, their deliveries and test sends;
- ``project``: health, the project and its ping key, the OpenAPI document;
- ``routes``: ``add_api_routes``, the one place that lists the ``/v1`` routes.

This file holds no code: import each name from the module that defines it.
"""
