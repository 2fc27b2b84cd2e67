"""The PostgreSQL fixtures come from tests/outbox/conftest.py (tests/outbox/_pg.py)."""
