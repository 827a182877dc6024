"""``/account``: the signed-in user's own settings (maintenance emails on or off)."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import BooleanField, SubmitField

from portal import audit, mail
from portal.extensions import db
from portal.web.account import bp
from portal.web.forms import Form


class AccountForm(Form):
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
    form = AccountForm(data={"maintenance_emails": user.maintenance_emails})
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
            db.session.commit()
        flash("Your settings have been saved.", "success")
        return redirect(url_for("account.index"))
    return render_template(
        "account/index.html", form=form, mail_off=None if mail.configured() else mail.OFF
    )
