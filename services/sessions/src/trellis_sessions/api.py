"""Sessions HTTP routes (the resources arrive with the service's features)."""

from fastapi import APIRouter

router = APIRouter(prefix="/sessions", tags=["sessions"])
