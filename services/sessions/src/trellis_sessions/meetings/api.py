"""Routes of the meetings area."""

from fastapi import APIRouter

router = APIRouter(prefix="/sessions", tags=["meetings"])
