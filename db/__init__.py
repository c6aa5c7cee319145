"""Persistence of the inspection station (SQLAlchemy 2.x, SQLite by default, PostgreSQL-ready). No Qt here."""
