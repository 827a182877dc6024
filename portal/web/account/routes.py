"""``/account``: the signed-in user's own settings (time zone, maintenance emails on or off)."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import ValidationError

from portal import audit, mail
from portal.core import timefmt
from portal.extensions import db
from portal.web.account.blueprint import bp
from portal.web.forms import Form


def _known_zone(form, field) -> None:
    if field.data and timefmt.canonical_zone(field.data) is None:
        raise ValidationError(
            f"{field.data[:64]!r} is not a time zone the portal knows: give an IANA name such "
            "as Europe/Berlin or America/New_York (the list offers them), or leave it empty."
        )


class AccountForm(Form):
    time_zone = StringField(
        "Time zone",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[_known_zone],
        description="The pages show times in this zone, e.g. Europe/Berlin. Empty: the zone "
        "your browser is in. Emails keep UTC.",
        render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"},
    )
    maintenance_emails = BooleanField(
        "Maintenance emails",
        description="Email me when maintenance is scheduled, starts and ends.",
    )
    submit = SubmitField("Save")


@bp.route("", methods=["GET", "POST"])
@login_required
def index():
    """Show and save the user's own settings."""
    user = current_user._get_current_object()
    form = AccountForm(
        data={"maintenance_emails": user.maintenance_emails, "time_zone": user.time_zone or ""}
    )
    if form.validate_on_submit():
        wanted = bool(form.maintenance_emails.data)
        if wanted != user.maintenance_emails:
            audit.record(
                user,
                "users",
                "update",
                f"Turned maintenance emails {'on' if wanted else 'off'}",
                before={"maintenance_emails": user.maintenance_emails},
                after={"maintenance_emails": wanted},
                client_id=user.client_id,
            )
            user.maintenance_emails = wanted
        zone = timefmt.canonical_zone(form.time_zone.data)  # None: follow the browser
        if zone != user.time_zone:
            audit.record(
                user,
                "users",
                "update",
                f"Set the time zone to {zone or 'the browser’s'}",
                before={"time_zone": user.time_zone},
                after={"time_zone": zone},
                client_id=user.client_id,
            )
            user.time_zone = zone
        db.session.commit()
        flash("Your settings have been saved.", "success")
        return redirect(url_for("account.index"))
    browser = timefmt.browser_zone()
    return render_template(
        "account/index.html",
        form=form,
        mail_off=None if mail.configured() else mail.OFF,
        zones=timefmt.zone_names(),
        browser_zone=browser.key if browser else None,
    )
