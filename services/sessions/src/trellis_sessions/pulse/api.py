"""Routes of the pulse area."""

from fastapi import APIRouter

router = APIRouter(prefix="/sessions", tags=["pulse"])
