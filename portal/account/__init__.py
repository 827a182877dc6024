"""``/account``: the signed-in user's own settings."""
