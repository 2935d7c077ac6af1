"""Labels shown to people: `N_` marks a Chinese msgid where it is defined, so `pybabel extract`
finds it (N_ is one of its default keywords), and `LabeledEnum` gives enum members a label
translated at run time. Labels are Chinese msgids; the English catalog translates them.
"""
from enum import Enum


def N_(message: str) -> str:
    """Mark `message` for extraction; it is translated where it is shown (gettext of a variable)."""
    return message


class LabeledEnum(str, Enum):
    """A str enum whose members carry a display label: `Klass.MAJOR.label`."""

    def __new__(cls, value: str, label: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj._zh = label
        return obj

    @property
    def label(self) -> str:
        from portal.i18n import text  # cached per language: lists show these hundreds of times
        return text(self._zh)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]

    @classmethod
    def get(cls, value):
        try:
            return cls(value) if value else None
        except ValueError:
            return None
