"""Whether a browser request comes from this server's own pages, from what browsers send.

Cookies and Basic credentials are ambient: a browser attaches them to requests other
sites' pages make. ``Sec-Fetch-Site`` (Fetch Metadata) is set by the browser itself and
cannot be forged by a script, so it decides where sent; browsers send it only to HTTPS
and loopback origins, and elsewhere ``Origin`` (or ``Referer``) is compared with this
server's own. Sans-IO: header values in, a yes or no out. ``api/access.py`` checks
state-changing requests with these, ``ui/login.py`` its login and logout posts.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def same_origin(
    origin: str | None,
    referer: str | None,
    host: str | None,
    scheme: str,
    fetch_site: str | None = None,
) -> bool:
    """Whether a browser request comes from this server's own pages. ``Sec-Fetch-Site``
    cannot be set by a script and is what the browser itself says, so it decides when
    present; browsers send it only to HTTPS and loopback origins."""
    if fetch_site:
        return fetch_site == "same-origin"
    if not host:
        return False
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    parts = urlsplit(source)
    return parts.scheme == scheme and parts.netloc.lower() == host.lower()


def cross_site(origin: str | None, host: str | None, scheme: str, fetch_site: str | None) -> bool:
    """Whether a browser says the request comes from another site's page."""
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    if origin:
        return not same_origin(origin, None, host, scheme)
    return False
