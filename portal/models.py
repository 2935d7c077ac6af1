"""Imports every model so SQLAlchemy and Alembic see the whole schema."""
from portal.batches.models import Batch, Product  # noqa: F401
from portal.cases.models import Attachment, Case, CaseCounter, Category, CompensationRule  # noqa: F401
from portal.notify.models import OutboxAttempt, OutboxMessage, UnitRobot  # noqa: F401
from portal.auth.models import LoginFailure, UserSession  # noqa: F401
from portal.org.models import OrgUnit, User, UserRole  # noqa: F401
from portal.signing.models import AuditEvent, Signature  # noqa: F401
from portal.sla.models import CasePause, Holiday, SlaPolicy  # noqa: F401
from portal.escalation.models import CaseEscalation, CaseTimer, LadderLevel, LadderRecipient  # noqa: F401
from portal.capa.models import CorrectiveAction, SheetCounter  # noqa: F401
from portal.clusters.models import BatchCluster, BatchClusterCase, ClusterRule  # noqa: F401
from portal.catalog.models import ImportJob  # noqa: F401
from portal.reports.rollup import ReportMonth  # noqa: F401
from portal.search.index import CaseTerm  # noqa: F401  (and its upkeep on case flushes)
from portal.knowledge.models import TypicalCase  # noqa: F401
from portal.reports.history import LedgerImport, LedgerMonth  # noqa: F401
from portal.reports.volumes import ProductionVolume  # noqa: F401
from portal.reports.assessment import AssessmentMonth, PenaltyRule  # noqa: F401
from portal.webhooks.models import WebhookEndpoint  # noqa: F401
from portal.api.models import ApiCall, ApiIdempotency, ApiToken  # noqa: F401  (issue 14: the intake API)
from portal.customer.models import CaseLink, CustomerAppeal, CustomerRating  # noqa: F401  (issue 14: the customer page)
