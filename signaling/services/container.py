"""The app-wide services handed to handlers (one instance per app, no module state)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomserver.eventchain import ChainCheck
from roomserver.store import SqlStore
from signaling.config import AppConfig
from signaling.services.events import EventLog
from signaling.tasks import TaskSet

if TYPE_CHECKING:
    from signaling.services.archiving import ArchiveManager
    from signaling.services.clarifications import ClarificationService
    from signaling.services.cluster import Cluster
    from signaling.services.copies import ArchiveCopies
    from signaling.services.halls import HallRooms
    from signaling.services.monitoring import WarningCenter
    from signaling.services.openings import OpeningService
    from signaling.services.outcomes import Outcomes
    from signaling.services.pool import WorkerPool
    from signaling.services.reverify import ArchiveSweep
    from signaling.services.webhooks import WebhookService
    from signaling.services.workflow import WorkflowService
from signaling.gate.tokens import TokenIssuer
from signaling.metrics import Metrics
from signaling.services.broadcasts import Broadcasts
from signaling.services.rooms import RoomManager

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """What the server's handlers share."""

    config: AppConfig
    store: SqlStore
    tokens: TokenIssuer
    rooms: RoomManager
    broadcasts: Broadcasts
    halls: HallRooms
    metrics: Metrics
    tasks: TaskSet
    events: EventLog
    archives: ArchiveManager
    # The archive's copies (replica, checks) and their scheduled re-verification.
    copies: ArchiveCopies
    sweep: ArchiveSweep
    workers: WorkerPool
    warnings: WarningCenter
    workflow: WorkflowService
    outcomes: Outcomes
    webhooks: WebhookService
    openings: OpeningService
    clarifications: ClarificationService
    # The event table's chain as checked at start (roomserver.eventchain).
    event_chain: ChainCheck
    # This node's place in a cluster (or the server alone).
    cluster: Cluster
