"""Sessions tables and API models."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class SessionsTable(SQLModel, registry=registry()):
    """Base of the tables sessions owns (its own metadata, apart from other services')."""
