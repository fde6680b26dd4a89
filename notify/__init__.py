"""Notifications (thông báo): a transactional outbox and the dispatcher that delivers it.

``outbox.enqueue`` writes rows in the append's transaction; ``dispatcher.Dispatcher`` runs in
the worker and sends them through ``channels`` (log, email, webhook), rendered by
``templates.render``. Apart from the event store, this is the system's only side effect.
"""

from notify.channels import (
    Channel,
    EmailChannel,
    LogChannel,
    Message,
    NotifySettings,
    WebhookChannel,
    channels_from_settings,
)
from notify.dispatcher import Dispatcher
from notify.outbox import enqueue
from notify.templates import render

__all__ = [
    "Channel",
    "Dispatcher",
    "EmailChannel",
    "LogChannel",
    "Message",
    "NotifySettings",
    "WebhookChannel",
    "channels_from_settings",
    "enqueue",
    "render",
]
