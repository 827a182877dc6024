"""gunicorn settings for tests: each worker appends one line per password hash it checks.

``gunicorn -c tests/password_check_counter.py``, with ``PASSWORD_CHECKS_FILE`` naming the file;
the line is the hash the password was checked against (the account's, or the dummy hash that
only equals the cost of a check). Appends of one short line do not interleave across processes.
"""

import os


def post_fork(server, worker) -> None:
    """Wrap the portal's password hash check in this worker before it loads the app."""
    from portal.accounts import passwords

    check, path = passwords.check_password_hash, os.environ["PASSWORD_CHECKS_FILE"]

    def counted(password_hash: str, password: str) -> bool:
        with open(path, "a", encoding="utf-8") as log:
            log.write(password_hash + "\n")
        return check(password_hash, password)

    passwords.check_password_hash = counted
