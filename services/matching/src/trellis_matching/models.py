"""Matching tables and API models."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class MatchingTable(SQLModel, registry=registry()):
    """Base of the tables matching owns (its own metadata, apart from other services')."""
