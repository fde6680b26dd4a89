"""Database URLs: the owner's (migrations, audit tools) and the application role's."""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

APP_ROLE = "drugfree_app"


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname)))


def app_url(admin_url: str, password: str | None = None) -> str:
    """The URL the application appends with: same server and database, connecting as the
    non-superuser role the migrations create (password from ``DRUGFREE_APP_PASSWORD`` when
    the server asks for one; the embedded server trusts its private socket)."""
    if password is None:
        password = os.environ.get("DRUGFREE_APP_PASSWORD")
    parts = urlsplit(admin_url)
    host = parts.netloc.rpartition("@")[2]
    user = APP_ROLE if not password else f"{APP_ROLE}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))
