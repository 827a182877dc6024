"""Every POST form of the portal, fuzzed with hostile values: never a 5xx (bad input re-renders).

The forms are discovered from the pages themselves (field names, multi-value fields, action),
so the test follows the templates as they change; the CSRF token is the page's own. Query
strings, and a fixed table of hostile values in every form of every rule, are swept by
``test_bad_input``.
"""

from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token
from tests.form_pages import Forms, read_forms

PAGES = [
    "/settings/maintenance",
    "/settings/users",
    "/settings/roles",
    "/settings/groups",
    "/settings/clients",
    "/settings/workflows",
    "/settings/triggers",
    "/auth/password",
]
SKIP_ACTIONS = ("/auth/logout",)  # signing out would turn every later POST into a redirect
NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "99999999999999999999999999",
    "1e309",
    "nan",
    "null",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "x" * 5000,
    "\x00",
    "ü€😀",
    "* * * * *",
    "[(",
]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str))


def parse(client, url: str) -> Forms:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return read_forms(response.get_data(as_text=True))


def forms_of(client, page: str) -> list[tuple[str, str, dict[str, bool]]]:
    """Return (page, target, fields) of the page's forms and of its create/edit pages."""
    listing = parse(client, page)
    pages = [page] + sorted({link for link in listing.links if link.startswith(page + "/")})[:4]
    found = []
    for url in pages:
        for form in parse(client, url).forms:
            target = urljoin(url, form.action) if form.action else url
            if form.fields and not target.endswith(SKIP_ACTIONS):
                found.append((url, target, form.fields))
    return found


def fuzz(client, url: str, target: str, fields: dict[str, bool]) -> None:
    """POST hypothesis-made values of ``fields`` to ``target`` with ``url``'s CSRF token."""
    token = csrf_token(client, url)
    strategy = st.fixed_dictionaries(
        {name: st.lists(VALUES, max_size=3) if multi else VALUES for name, multi in fields.items()}
    )

    @given(data=strategy)
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def post(data: dict) -> None:
        try:  # TESTING propagates a view's exception instead of answering 500
            response = client.post(target, data={**data, "csrf_token": token})
        except Exception as exc:
            raise AssertionError(f"POST {target} {data!r} raised {exc!r}") from exc
        assert response.status_code < 500, (target, data, response.status_code)

    post()


@pytest.mark.parametrize("page", PAGES)
def test_hostile_form_values_never_cause_a_server_error(admin_client, page):
    forms = forms_of(admin_client, page)
    assert forms, f"no POST form with fields on {page} or the pages it links to"
    for url, target, fields in forms:
        fuzz(admin_client, url, target, fields)
