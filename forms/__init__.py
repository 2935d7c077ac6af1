"""Flask-WTF forms, one module per domain, all on BaseForm (messages in the page's language)."""
from flask_babel import get_locale, gettext as _
from flask_wtf import FlaskForm


class BaseForm(FlaskForm):
    class Meta:
        @property
        def locales(self):
            # WTForms ships its own Chinese and English messages ("不是有效的整数。"); use the
            # page's language. Our own labels and messages are lazy_gettext strings.
            loc = get_locale()
            return ["en"] if loc is not None and loc.language == "en" else ["zh"]

        def bind_field(self, form, unbound_field, options):
            # PostgreSQL refuses NUL in text; strip it from every string field at the door.
            filters = [*unbound_field.kwargs.get("filters", ()), _no_nul]
            return unbound_field.bind(form=form, filters=filters, **options)

    def first_error(self) -> str | None:
        for field in self:
            if field.errors:
                return _("%(label)s：%(text)s", label=field.label.text, text=field.errors[0])
        return None


def _no_nul(value):
    return value.replace("\x00", "") if isinstance(value, str) else value
