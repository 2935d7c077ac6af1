"""Flask-WTF forms, one module per domain, all on BaseForm (Chinese messages)."""
from flask_wtf import FlaskForm


class BaseForm(FlaskForm):
    class Meta:
        locales = ["zh"]  # WTForms ships its own Chinese messages

    def first_error(self) -> str | None:
        for field in self:
            if field.errors:
                return f"{field.label.text}：{field.errors[0]}"
        return None
