"""The API's fixtures for the web's isolation walk: two organisations × three roles with
Acme's objects of every kind, on SQLite and (when configured) PostgreSQL."""

from tests.api.conftest import cheap_argon2, client, database, sqlite_template, world

__all__ = ["cheap_argon2", "client", "database", "sqlite_template", "world"]
