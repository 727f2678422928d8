from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from commitments.services import STATUS_PERMISSION


class ReadOrSetStatus(BasePermission):
    """Reads are public. The one write, a milestone's status, needs the permission the
    service itself checks (the editors group has it): 401 without credentials, 403
    with a viewer's."""

    message = "Changing a milestone's status needs the 'set milestone status' permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.has_perm(STATUS_PERMISSION)
        )
