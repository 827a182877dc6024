"""The base of every form of the portal (its text fields refuse what no database stores),
the fields the portal's forms share, and the one date-and-time input every form that takes a
time uses."""

from datetime import datetime, timedelta

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, DateTimeLocalInput, ListWidget

from portal.core import timefmt
from portal.core.inputs import UNSTORABLE, storable

DAMAGED = "The form came back damaged (a hidden field holds text no database stores): reload it."
MAX_MOMENT = 40  # characters: a date, a time with seconds and an offset fit


class Form(FlaskForm):
    """A FlaskForm whose text inputs (text, textarea, email, password, search) refuse NUL
    characters with a message next to the field, as PostgreSQL would refuse to store them."""

    def validate(self, extra_validators=None) -> bool:
        """Run the fields' validators, then refuse unstorable text in any text field."""
        valid = super().validate(extra_validators)
        for field in self:
            text = field.data if isinstance(field.data, str) else ""
            if isinstance(field, StringField) and not storable(text):
                field.errors.append(UNSTORABLE)
                if isinstance(field, HiddenField):  # its errors are not shown next to it
                    self.form_errors = [*self.form_errors, DAMAGED]
                valid = False
        return valid


class CheckboxListField(SelectMultipleField):
    """A multiple choice as a list of labelled checkboxes: a click ticks one more, never replaces
    the others (as a click on a native multi-select does). Render it with the
    ``render_checkbox_list`` macro of ``_macros.html``."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __iter__(self):
        # A checkbox takes the list's validators: "required" would then ask for every box;
        # the list (at least one) is checked by the server and its error shown on the list.
        for option in super().__iter__():
            option.flags.required = False
            yield option


class LocalDateTimeField(StringField):
    """A date and time typed in the viewer's time zone; ``data`` is naive UTC (None: empty).

    The maintenance schedule and the events and audit filters all read times with it:
    ``YYYY-MM-DDTHH:MM`` (what a ``datetime-local`` input sends) in the viewer's zone
    (:func:`portal.core.timefmt.viewer_zone`), an explicit ``Z`` or offset winning; with ``dates``
    a whole day (``YYYY-MM-DD``) too. ``end`` is the exclusive end of what was typed (the
    next minute, or the next day), for a "to" that includes its minute or day (``inclusive``).
    ``{zone}`` and ``{example}`` in the description become the viewer's zone and a time in
    the future.
    """

    widget = DateTimeLocalInput()

    def __init__(
        self, label=None, validators=None, *, dates: bool = False, inclusive: bool = False, **kw
    ) -> None:
        super().__init__(label, validators, **kw)
        self.dates, self.inclusive, self.whole_day = dates, inclusive, False
        self.zone = timefmt.viewer_zone()
        self.example = timefmt.example(self.zone)
        self.description = self.description.format(zone=self.zone.key, example=self.example)
        self.render_kw = {"placeholder": self.example, **(self.render_kw or {})}

    def process_data(self, value) -> None:
        self.data = value if isinstance(value, datetime) else None

    def process_formdata(self, valuelist: list) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        self.data, self.whole_day = None, False
        if not text:
            return
        try:
            if len(text) > MAX_MOMENT:
                raise timefmt.MomentError(shape=True)
            self.data, self.whole_day = timefmt.parse_local(text, self.zone, self.dates)
        except timefmt.MomentError as exc:
            if not exc.shape:
                raise ValueError(f"{text!r} is not a valid date and time.") from None
            shapes = "YYYY-MM-DDTHH:MM or YYYY-MM-DD" if self.dates else "YYYY-MM-DDTHH:MM"
            raise ValueError(
                f"The date and time must look like {self.example} ({shapes}, in your time "
                f"zone, {self.zone.key})."
            ) from None

    @property
    def end(self) -> datetime | None:
        """Return the moment just after what was typed: its next minute, or its next day
        (None: nothing typed, or nothing after it, e.g. 9999-12-31)."""
        if self.data is None:
            return None
        try:
            if self.whole_day:
                return timefmt.next_day(self.data, self.zone)
            return self.data.replace(second=0, microsecond=0) + timedelta(minutes=1)
        except OverflowError:
            return None

    def _value(self) -> str:
        typed = self.raw_data[0] if self.raw_data else ""
        if self.data is None:
            return typed
        shown = self.data
        if self.inclusive and self.end is not None:
            shown = self.end - timedelta(minutes=1)
        try:
            return f"{timefmt.local(shown, self.zone):%Y-%m-%dT%H:%M}"
        except OverflowError:  # the edge of the calendar in this zone
            return typed
