"""Routes of the plan area."""

from fastapi import APIRouter

router = APIRouter(prefix="/sessions", tags=["plan"])
