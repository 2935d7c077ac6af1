"""A typical case: the case it is, what was learned, and tags to browse by."""
import sqlalchemy as sa

from portal.extensions import db
from portal.models_base import created_column

TAGS_LEN = 200


class TypicalCase(db.Model):
    __tablename__ = "typical_case"
    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("case.id"), nullable=False, unique=True)
    lessons = sa.Column(sa.Text, nullable=False)  # 处理心得
    tags = sa.Column(sa.String(TAGS_LEN), nullable=False, default="")  # space separated
    marked_by_id = sa.Column(sa.Integer, sa.ForeignKey("user.id"), nullable=False)
    marked_at = created_column()
    version = sa.Column(sa.Integer, nullable=False, default=1)

    case = db.relationship("Case")
    marked_by = db.relationship("User")

    @property
    def tag_list(self) -> list[str]:
        return self.tags.split()
