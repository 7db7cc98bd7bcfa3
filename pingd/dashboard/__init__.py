"""The dashboard: HTML pages served by the same Falcon app, for people rather than scripts.

- ``render``: the Jinja2 environment (autoescaping, loaded at the first
  page), the security headers of every page, and the stylesheet;
- ``session``: the session cookie, sign-in rate limits and the checks that
  refuse a forged POST (a form token and the request's origin);
- ``login``: signing in with an API key or a one-time link, and out;
- ``checks``: the checks page; ``check``: one check, where alerts link;
- ``routes``: the one place that lists the dashboard's routes.
"""
