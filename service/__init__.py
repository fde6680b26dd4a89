"""The service layer: one typed facade (``CaseService``) for every interface."""

from service.cases import CaseRef, CaseService, CaseView
from service.errors import ServiceError
from service.readmodel import Inbox, InboxItem

__all__ = ["CaseRef", "CaseService", "CaseView", "Inbox", "InboxItem", "ServiceError"]
