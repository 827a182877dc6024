"""Render an OpenAPI 3.1 document as Markdown: the endpoints, their parameters and answers,
the authentication schemes and the schemas, each schema linked where it is used."""

from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def anchor(name: str) -> str:
    return "schema-" + name.lower()


def ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None


def constraints(schema: dict) -> list[str]:
    """The limits a value must keep, in words."""
    words = []
    for low, high, unit in (
        ("minLength", "maxLength", "characters"),
        ("minItems", "maxItems", "items"),
        ("minimum", "maximum", ""),
        ("minProperties", "maxProperties", "fields"),
    ):
        lo, hi = schema.get(low), schema.get(high)
        if lo is None and hi is None:
            continue
        unit = f" {unit}" if unit else ""
        if lo is not None and hi is not None:
            words.append(f"{lo:,}–{hi:,}{unit}")
        elif lo is not None:
            words.append(f"at least {lo:,}{unit}")
        else:
            words.append(f"at most {hi:,}{unit}")
    if "pattern" in schema:
        words.append(f"pattern `{schema['pattern']}`")
    if "format" in schema:
        words.append(schema["format"])
    if schema.get("additionalProperties") is False:
        words.append("no other fields")
    return words


def type_of(schema: Any) -> str:
    """A schema in a few words, with links to the named schemas it uses."""
    if not isinstance(schema, dict) or not schema:
        return "any JSON"
    name = ref_name(schema)
    if name:
        return f"[{name}](#{anchor(name)})"
    for key, joiner in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if key in schema and "properties" not in schema:
            return joiner.join(type_of(part) for part in schema[key])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    words = []
    for kind in kinds:
        if kind == "array":
            words.append(f"array of {type_of(schema.get('items'))}")
        else:
            words.append(kind)
    text = " or ".join(words) if words else "object" if "properties" in schema else "any JSON"
    limits = constraints(schema)
    return f"{text} ({'; '.join(limits)})" if limits else text


def property_rows(schema: dict, prefix: str = "") -> list[str]:
    """One table row per field, nested objects as dotted names."""
    rows = []
    required = set(schema.get("required", []))
    for name, field in schema.get("properties", {}).items():
        field = field if isinstance(field, dict) else {}
        nested = "properties" in field and not ref_name(field)
        kind = "object" if nested else type_of(field)
        rows.append(
            f"| `{prefix}{name}` | {cell(kind)} | {'yes' if name in required else ''} "
            f"| {cell(field.get('description', ''))} |"
        )
        if nested:
            rows.extend(property_rows(field, f"{prefix}{name}."))
    return rows


def schema_section(name: str, schema: dict, level: int) -> list[str]:
    lines = [f"{'#' * level} {name} {{#{anchor(name)}}}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    bases = [type_of(part) for part in schema.get("allOf", [])]
    if bases:
        lines += [f"All the fields of {', '.join(bases)}, and:", ""]
    limits = constraints(schema)
    if limits:
        lines += [f"The object: {'; '.join(limits)}.", ""]
    rows = property_rows(schema)
    if rows:
        lines += ["| field | type | required | meaning |", "| --- | --- | --- | --- |", *rows, ""]
    elif not bases:
        lines += [f"A value of type {type_of(schema)}.", ""]
    return lines


def auth_line(operation: dict, document: dict, schemes: dict) -> str:
    security = operation.get("security", document.get("security", []))
    names = [name for requirement in security for name in requirement]
    if not names:
        return "**Authentication:** none."
    links = [f"[{name}](#auth-{name.lower()})" for name in names if name in schemes]
    return "**Authentication:** " + (" or ".join(links) or ", ".join(names)) + "."


def operation_section(
    path: str, method: str, operation: dict, document: dict, level: int
) -> list[str]:
    schemes = document.get("components", {}).get("securitySchemes", {})
    operation_id = operation.get("operationId", f"{method}-{path}")
    lines = [f"{'#' * level} `{method.upper()} {path}` {{#op-{operation_id.lower()}}}", ""]
    if operation.get("summary"):
        lines += [operation["summary"] + ".", ""]
    if operation.get("description"):
        lines += [operation["description"], ""]
    lines += [auth_line(operation, document, schemes), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += [
            "| parameter | in | required | type | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for parameter in parameters:
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} "
                f"| {'yes' if parameter.get('required') else ''} "
                f"| {cell(type_of(parameter.get('schema')))} "
                f"| {cell(parameter.get('description', ''))} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            lines += [f"**Request body** (`{media}`): {type_of(content.get('schema'))}.", ""]
    lines += ["| status | meaning | body |", "| --- | --- | --- |"]
    for status, response in operation.get("responses", {}).items():
        bodies = [type_of(c.get("schema")) for c in response.get("content", {}).values()]
        headers = ", ".join(f"`{header}` header" for header in response.get("headers", {}))
        answer = " ".join(part for part in (", ".join(bodies), headers and f"({headers})") if part)
        lines.append(f"| {status} | {cell(response.get('description', ''))} | {cell(answer)} |")
    return [*lines, ""]


def render(document: dict, level: int = 2) -> str:
    """The whole reference as Markdown, its sections at heading ``level``."""
    section = "#" * level
    info = document.get("info", {})
    schemes = document.get("components", {}).get("securitySchemes", {})
    lines = [
        f"OpenAPI {document.get('openapi', '?')}, *{info.get('title', '')}* version "
        f"{info.get('version', '?')}. {info.get('description', '')}",
        "",
        f"{section} Authentication",
        "",
        "| scheme | how | meaning |",
        "| --- | --- | --- |",
    ]
    for name, scheme in schemes.items():
        if scheme.get("type") == "apiKey":
            how = f"{scheme.get('in')} `{scheme.get('name')}`"
        elif scheme.get("type") == "http":
            how = f"`Authorization: {scheme.get('scheme', '').title()} …`"
        else:
            how = scheme.get("type", "")
        lines.append(
            f'| <span id="auth-{name.lower()}"></span>{name} | {cell(how)} '
            f"| {cell(scheme.get('description', ''))} |"
        )
    lines += ["", f"{section} Endpoints", ""]
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                lines += operation_section(path, method, item[method], document, level + 1)
    lines += [f"{section} Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += schema_section(name, schema, level + 1)
    return "\n".join(lines).rstrip() + "\n"
