"""Flask-WTF forms, one module per domain, all on BaseForm (messages in the page's language)."""
from flask_babel import get_locale, gettext as _
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.fields.choices import Choice, SelectField


class FastSelect(widgets.Select):
    """WTForms' <select> with the plain option written directly: the stock widget inspects
    render_option's signature at every render and builds each option through html_params,
    ~10 µs an option; a case page draws about forty. Same HTML (attributes in html_params'
    sorted order); options with extra attributes (disabled) take the stock path."""

    @classmethod
    def _dispatch_render_option(cls):
        return cls.render_option

    def __call__(self, field, **kwargs):
        # The stock widget reads the choices twice (has_groups, then the options), building a
        # SelectChoice and a Choice per option each time; here once, unless there are groups.
        choices = field._choices_from_input(field.choices) or []
        if type(field).iter_choices is not SelectField.iter_choices or any(
                c.optgroup is not None for c in choices):
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = field.flags
        for name in self.validation_attrs:
            if name not in kwargs and (value := getattr(flags, name, None)):
                kwargs[name] = value
        html = [f"<select {widgets.html_params(name=field.name, **kwargs)}>"]
        coerce, data = field.coerce, field.data
        for c in choices:
            html.append(self.render_option(Choice(value=c.value, label=c.label, selected=coerce(c.value) == data,
                                                  render_kw=c.render_kw)))
        html.append("</select>")
        return Markup("".join(html))

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        label = escape(choice.label or choice.value)
        selected = "selected " if choice.selected else ""
        return Markup(f'<option {selected}value="{escape(value)}">{label}</option>')


SelectField.widget = FastSelect()


def radio_options(field, attrs=None) -> Markup:
    """A RadioField's options as `<label class="check"><input …> text</label>`, the HTML of
    iterating the field and calling each option (macros/forms.html) without binding a field
    per option and reading its flags each time (~60 µs an option; the verify panel of every
    new case draws five)."""
    base = dict(field.render_kw or {}, **(attrs or {}))
    for name in widgets.RadioInput.validation_attrs:  # what the field's validators imply
        if name not in base and (value := getattr(field.flags, name, None)):
            base[name] = value() if callable(value) else value
    out = []
    for i, choice in enumerate(field._iter_choices_normalized()):
        kw = {"id": f"{field.id}-{i}", "type": "radio", **base}
        kw.setdefault("value", str(choice.value))
        if choice.selected:
            kw.setdefault("checked", True)
        kw["name"] = field.name
        out.append(f'<label class="check"><input {widgets.html_params(**kw)}> '
                   f'{escape(choice.label or choice.value)}</label>')
    return Markup("".join(out))


class BaseForm(FlaskForm):
    class Meta:
        @property
        def locales(self):
            # WTForms ships its own Chinese and English messages ("不是有效的整数。"); use the
            # page's language. Our own labels and messages are lazy strings (portal.i18n.lazy_text).
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
