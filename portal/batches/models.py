"""Products and their production batches."""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.extensions import db


class Product(db.Model):
    __tablename__ = "product"
    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), unique=True, nullable=False)
    name = sa.Column(sa.String(100), nullable=False, index=True)
    spec = sa.Column(sa.String(100))  # 规格, e.g. "500g/袋"
    unit_price = sa.Column(sa.Numeric(10, 2))
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    # Optimistic lock for the admin's edit form (two admins, or an admin and an import).
    version = sa.Column(sa.Integer, nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    @property
    def display(self) -> str:
        return f"{self.name} {self.spec}" if self.spec else self.name


class Batch(db.Model):
    __tablename__ = "batch"
    id = sa.Column(sa.Integer, primary_key=True)
    batch_no = sa.Column(sa.String(40), unique=True, nullable=False)
    product_id = sa.Column(sa.Integer, sa.ForeignKey("product.id"), nullable=False, index=True)
    production_date = sa.Column(sa.Date, nullable=False)
    production_unit_id = sa.Column(sa.Integer, sa.ForeignKey("org_unit.id"))
    line = sa.Column(sa.String(40))  # 生产线
    shift = sa.Column(sa.String(20))  # 班次, e.g. "早班"
    quantity = sa.Column(sa.Integer)  # units produced, for complaint rates
    # Region names the batch was shipped to, as 储运部 reports them (the same free text as
    # Case.region), so a trace can say where else the same stock went.
    shipped_regions = sa.Column(sa.JSON, nullable=False, default=list, server_default=sa.text("'[]'"))
    # An inactive batch stays for the cases that name it but is no longer offered as current.
    active = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    version = sa.Column(sa.Integer, nullable=False, server_default="1")  # as Product.version

    product = relationship("Product", lazy="joined")
    production_unit = relationship("OrgUnit")

    __mapper_args__ = {"version_id_col": version}
    # The register's list, newest production first.
    __table_args__ = (sa.Index("ix_batch_production_date", "production_date", "id"),)
