"""SLA policies: the limit of each step, per class (and optionally channel)."""
import sqlalchemy as sa

from portal.cases.enums import Channel, Klass
from portal.cases.states import Step
from portal.extensions import db
from portal.models_base import enum_type


class SlaPolicy(db.Model):
    __tablename__ = "sla_policy"
    id = sa.Column(sa.Integer, primary_key=True)
    step = sa.Column(enum_type(Step), nullable=False)
    klass = sa.Column(enum_type(Klass))  # NULL: the default for every class
    channel = sa.Column(enum_type(Channel))  # NULL: any channel
    minutes = sa.Column(sa.Integer, nullable=False)
    calendar = sa.Column(sa.String(16), nullable=False, default="24x7")  # 24x7 | working
