"""The service layer: one typed facade (``CaseService``) for every interface."""

from service.cases import CaseRef, CaseService, CaseView
from service.errors import ServiceError

__all__ = ["CaseRef", "CaseService", "CaseView", "ServiceError"]
