"""Routes of the health area."""

from fastapi import APIRouter

router = APIRouter(prefix="/sessions", tags=["health"])
