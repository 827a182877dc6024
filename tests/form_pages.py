"""Read the POST forms of a rendered page: where they post, their fields and what they hold."""

from html.parser import HTMLParser


class Form:
    """One POST form: its ``action``, the multi-valued-ness of each field and its values as a
    browser would submit them unchanged (checked boxes, selected options, typed text)."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.fields: dict[str, bool] = {}  # name -> multi-valued (checkboxes, multi-selects)
        self.values: dict[str, list[str]] = {}

    def add(self, name: str, multi: bool, value: str | None = None) -> None:
        self.fields[name] = self.fields.get(name, False) or multi
        if value is not None:
            self.values.setdefault(name, []).append(value)


class Forms(HTMLParser):
    """Collect the POST forms of a page and its links (the CSRF token and buttons left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: tuple[str, bool, list[str]] | None = None  # name, multiple, first option
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {key: value or "" for key, value in attrs}
        name = attributes.get("name")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        elif tag == "form" and attributes.get("method", "").lower() == "post":
            self._form = Form(attributes.get("action", ""))
            self.forms.append(self._form)
        elif self._form is None or (tag != "option" and (not name or name == "csrf_token")):
            return
        elif tag == "input" and attributes.get("type") not in ("submit", "button", "reset"):
            kind = attributes.get("type", "text")
            ticked = kind not in ("checkbox", "radio") or "checked" in attributes
            value = attributes.get("value", "on" if kind == "checkbox" else "")
            self._form.add(name, kind == "checkbox", value if ticked else None)
        elif tag == "textarea":
            self._form.add(name, False)
            self._textarea = name
        elif tag == "select":
            self._form.add(name, "multiple" in attributes)
            self._select = (name, "multiple" in attributes, [])
        elif tag == "option" and self._select is not None:
            select, multiple, first = self._select
            value = attributes.get("value", "")
            if "selected" in attributes:
                self._form.add(select, multiple, value)
            elif not first:
                first.append(value)

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            typed = self._form.values.get(self._textarea, [""])[0]
            self._form.values[self._textarea] = [typed + data]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            select, multiple, first = self._select
            if not multiple and select not in self._form.values and first:
                self._form.add(select, False, first[0])  # a browser sends the first option
            self._select = None


def read_forms(html: str) -> Forms:
    """Return the POST forms and links of ``html``."""
    parser = Forms()
    parser.feed(html)
    return parser
