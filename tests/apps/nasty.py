"""Routes whose paths, names and metadata try to break generated code, YAML and JSON.

Every value here must survive being written into Python source, YAML and JSON unchanged.
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/it's/{item_id}")
def apostrophe(item_id: str) -> dict[str, str]:
    return {"item_id": item_id}


@app.get('/say"hi"')
def double_quotes() -> dict[str, str]:
    return {"said": '"hi"'}


@app.get("/yaml-special/{key}", name="yes: no # not a comment", tags=["admin: internal"])
def yaml_special(key: str) -> dict[str, str]:
    return {"key": key}


@app.get(
    "/template/{value}",
    name="{{ jinja }} \\back\\slash",
    summary="{% if x %}'{{ jinja }}'{% endif %} \\back\\slash",
    operation_id="op_{{ jinja }}_\\back\\slash",
)
def template_like(value: str) -> dict[str, str]:
    return {"value": value}


@app.get(
    "/multiline",
    summary='Ends with """ and a backslash \\',
    description="line one\nline two: with a colon\n# and a hash\n- and: a list item",
)
def multiline() -> dict[str, str]:
    return {"lines": "2"}


@app.get("/symbols/~owner/a@b!c*d&e")
def symbols() -> dict[str, str]:
    return {"symbols": "~@!*&"}


@app.get("/discount/50%")
def percent() -> dict[str, str]:
    return {"discount": "50%"}


@app.get("/v1.0/foo-bar/{id}")
def dotted_version(id: int) -> dict[str, int]:
    return {"id": id}


@app.get("/report-{year:int}.csv")
def braces_adjacent(year: int) -> dict[str, int]:
    return {"year": year}


@app.get("/café/{name}", name="ünïcödé ✓", summary="Grüße, 世界 🚀", tags=["ünïcödé"])
def unicode_route(name: str) -> dict[str, str]:
    return {"name": name}


# /a-b and /a_b both turn into "get_a_b" when a path is made into an identifier.
@app.get("/a-b")
def dash() -> dict[str, str]:
    return {"route": "a-b"}


@app.get("/a_b")
def underscore() -> dict[str, str]:
    return {"route": "a_b"}


# Two different routes that share one explicit route name.
@app.get("/dup/one", name="dup")
def dup_one() -> dict[str, int]:
    return {"dup": 1}


@app.get("/dup/two", name="dup")
def dup_two() -> dict[str, int]:
    return {"dup": 2}
