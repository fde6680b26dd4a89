"""The web pages (trang web): server-rendered Jinja2 pages under ``/ui`` for the people who
decide, in Vietnamese first; htmx (from npm, ``web/package.json``) only enhances them."""
