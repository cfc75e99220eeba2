"""From the app's routes to deployable functions: names, gateway events, settings.

Pure: an :class:`AppSpec` and a :class:`Config` in, a :class:`BuildPlan` out. Problems
with single routes become diagnostics; the CLI decides whether they stop the build.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from fastsplit.config import Config, validate_route_settings
from fastsplit.errors import ConfigError, Diagnostic
from fastsplit.model import (
    AppSpec,
    BuildPlan,
    FallbackRoute,
    Function,
    HttpEvent,
    Route,
    Settings,
)
from fastsplit.naming import default_name, logical_id, max_name_length, shorten

RESERVED_NAMES = ("docs", "fallback")
MIN_NAME_ROOM = 12  # "fallback" plus room for a shortened name with its hash
HTTP_API_TIMEOUT = 30
_SEGMENT_PARAM = re.compile(r"^\{([^}:]+)(?::([^}]*))?\}$")
_ANY_PARAM = re.compile(r"\{[^}]*\}")
CORS_MIDDLEWARE = "starlette.middleware.cors:CORSMiddleware"
NOT_SLIM = "full mode, not slim: "


@dataclass
class _Draft:
    """A function being planned (mutable while names and events are settled)."""

    name: str
    kind: str
    routes: list[Route]
    explicit_name: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    events: list[HttpEvent] = field(default_factory=list)
    mode: str = "full"
    slim_include: tuple[str, ...] = ()
    slim_exclude: tuple[str, ...] = ()


def plan_build(spec: AppSpec, config: Config) -> BuildPlan:
    """Decide the functions of ``spec``; raises ConfigError for invalid settings."""
    diagnostics = list(spec.diagnostics)
    service = config.service or service_slug(spec)
    limit = max_name_length(service, config.stage)
    if limit < MIN_NAME_ROOM:
        raise ConfigError(
            f"service {service!r} and stage {config.stage!r} leave {max(limit, 0)} of the 64 "
            "characters of a Lambda function name for the function; shorten them"
        )
    drafts = _route_drafts(spec, config, diagnostics)
    if config.docs:
        docs = [route for route in spec.routes if route.kind == "docs"]
        if docs:
            drafts.append(_Draft("docs", "docs", docs, explicit_name=True))
    _settle_names(drafts, limit, diagnostics)
    _assign_events(drafts, spec, diagnostics)
    drafts = [draft for draft in drafts if draft.events]
    if config.fallback:
        fallback = _Draft("fallback", "fallback", [], explicit_name=True)
        fallback.events = [HttpEvent("ANY", "$default")]
        drafts.append(fallback)
    functions = tuple(_finish(draft, config, spec, diagnostics) for draft in drafts)
    diagnostics += not_slim_diagnostics(
        (function.routes[0].key, function.not_slim)
        for function in functions
        if function.not_slim and not spec.not_slim
    )
    if config.timeout > HTTP_API_TIMEOUT:
        diagnostics.append(_timeout_warning("options", config.timeout))
    if not any(function.kind != "fallback" for function in functions):
        diagnostics.append(Diagnostic("error", spec.app, "the app has no HTTP routes to split"))
    if config.fallback and _fallback_needs_app(spec):
        diagnostics.append(_fallback_full(spec))
    if spec.not_slim and any(d.kind == "route" and d.mode == "slim" for d in drafts):
        diagnostics += not_slim_diagnostics([(spec.app, f"every function: {spec.not_slim}")])
    return BuildPlan(
        spec=spec,
        service=service,
        stage=config.stage,
        region=config.region,
        runtime=config.runtime,
        functions=functions,
        fallback_routes=tuple(
            FallbackRoute(route.path, None if route.kind == "mount" else route.methods)
            for route in spec.routes
        ),
        diagnostics=tuple(sorted(set(diagnostics), key=diagnostic_order)),
    )


def service_slug(spec: AppSpec) -> str:
    """A service name from the app title (or its top-level module for FastAPI's default)."""
    title = spec.title if spec.title and spec.title != "FastAPI" else spec.module.split(".")[0]
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", title).strip("-").lower()
    if not slug or not slug[0].isalpha():
        slug = f"app-{slug}".rstrip("-")
    return slug[:32].rstrip("-")


def _route_drafts(spec: AppSpec, config: Config, diagnostics: list[Diagnostic]) -> list[_Draft]:
    drafts = []
    for route in spec.routes:
        if route.kind == "docs":
            continue
        settings = _route_settings(route, config)
        name = settings.pop("name", None)
        drafts.append(
            _Draft(
                name=name or default_name(route),
                kind="route" if route.kind == "api" else "mount",
                routes=[route],
                explicit_name=name is not None,
                settings=settings,
                mode=settings.pop("mode", config.mode),
                slim_include=_union(config.slim_include, settings.pop("slim_include", ())),
                slim_exclude=_union(config.slim_exclude, settings.pop("slim_exclude", ())),
            )
        )
    return drafts


def _union(*names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for group in names for name in group))


def wants_slim(spec: AppSpec, config: Config) -> bool:
    """Whether any API route's function is asked to be slim (by the config, a pyproject
    glob or its own ``x-fastsplit``): only then does the build need slim recipes."""
    return any(
        _route_settings(route, config).get("mode", config.mode) == "slim"
        for route in spec.routes
        if route.kind == "api"
    )


def _route_settings(route: Route, config: Config) -> dict[str, Any]:
    """Pyproject globs (in file order) then the route's own ``x-fastsplit``."""
    merged: dict[str, Any] = {}
    for glob, settings in config.routes:
        if _glob_matches(glob, route):
            _merge(merged, settings)
    _merge(merged, validate_route_settings(route.settings, where=route.key))
    if "name" in merged and merged["name"] in RESERVED_NAMES:
        raise ConfigError(
            f"{route.key}: name {merged['name']!r} is reserved by fastsplit; choose another"
        )
    return merged


def _merge(merged: dict[str, Any], settings: dict[str, Any]) -> None:
    """Later levels win, except that environment variables and IAM statements add up."""
    for key, value in settings.items():
        if key == "environment" and key in merged:
            merged[key] = tuple(sorted((dict(merged[key]) | dict(value)).items()))
        elif key in ("iam_statements", "slim_include", "slim_exclude") and key in merged:
            merged[key] = (*merged[key], *value)
        else:
            merged[key] = value


def _glob_matches(glob: str, route: Route) -> bool:
    """A glob names routes by path (``/admin/*``), method and path (``GET /users/*``),
    or route name (``get_user*``)."""
    if glob.startswith("/"):
        return fnmatch.fnmatchcase(route.path, glob) or fnmatch.fnmatchcase(route.path_format, glob)
    method, _, path = glob.partition(" ")
    if path.startswith("/"):
        return (method.upper() in route.methods or method == "*") and (
            fnmatch.fnmatchcase(route.path, path) or fnmatch.fnmatchcase(route.path_format, path)
        )
    return fnmatch.fnmatchcase(route.name, glob) or fnmatch.fnmatchcase(default_name(route), glob)


def _settle_names(drafts: list[_Draft], limit: int, diagnostics: list[Diagnostic]) -> None:
    """Shorten long names, reject clashing explicit names, number clashing automatic ones."""
    owners: dict[str, _Draft] = {}
    for draft in sorted(drafts, key=lambda d: not d.explicit_name):
        if draft.explicit_name and len(draft.name) > limit:
            raise ConfigError(
                f"{_where(draft)}: name {draft.name!r} is longer than the {limit} characters "
                "left by the service and stage in a Lambda function name; shorten it"
            )
        if draft.explicit_name:
            if draft.name in owners:
                raise ConfigError(
                    f"{_where(draft)} and {_where(owners[draft.name])} both map to function "
                    f"name {draft.name!r}; give one of them another name"
                )
            owners[draft.name] = draft
    taken_ids = {logical_id(name) for name in owners}
    for draft in drafts:
        if draft.explicit_name:
            continue
        base = shorten(draft.name, limit)
        if base != draft.name:
            diagnostics.append(
                Diagnostic("info", _where(draft), f"function name shortened to {base!r}")
            )
        name, number = base, 1
        # Names must differ, and so must their CloudFormation ids (PascalCase drops
        # the underscores: get_report_2024 and get_report2024 would clash).
        while name in owners or logical_id(name) in taken_ids:
            number += 1
            name = shorten(f"{base}_{number}", limit)
        if name != base:
            clash = owners.get(base) or next(
                d for n, d in owners.items() if logical_id(n) == logical_id(base)
            )
            diagnostics.append(
                Diagnostic(
                    "warning",
                    _where(draft),
                    f"function name {base!r} clashes with {_where(clash)}; "
                    f"named {name!r} instead (set x-fastsplit name to choose)",
                )
            )
        draft.name = name
        owners[name] = draft
        taken_ids.add(logical_id(name))
    ids: dict[str, str] = {}
    for draft in drafts:
        key = logical_id(draft.name)
        if key in ids:
            raise ConfigError(
                f"functions {ids[key]!r} and {draft.name!r} give the same CloudFormation id "
                f"{key!r}; rename one of them"
            )
        ids[key] = draft.name


def _where(draft: _Draft) -> str:
    return draft.routes[0].key if draft.routes else draft.name


def gateway_path(route: Route) -> str | None:
    """The route's path in API Gateway syntax, or None if the gateway cannot express it.

    ``{id}`` and ``{id:int}`` become ``{id}``; a trailing ``{p:path}`` becomes the greedy
    ``{p+}``. A mount serves everything below its prefix: ``/static/{proxy+}``.
    """
    if route.kind == "mount":
        return f"{route.path.rstrip('/')}/{{proxy+}}"
    segments = route.path.split("/")
    out = []
    for position, segment in enumerate(segments):
        match = _SEGMENT_PARAM.match(segment)
        if match is None:
            if _ANY_PARAM.search(segment) or "+" in segment:
                return None
            out.append(segment)
            continue
        name, converter = match.group(1), match.group(2)
        if converter == "path":
            if position != len(segments) - 1:
                return None
            out.append(f"{{{name}+}}")
        else:
            out.append(f"{{{name}}}")
    return "/".join(out) or "/"


def _route_pattern(path: str) -> str:
    """The gateway's notion of "the same route": parameter names do not matter."""
    return re.sub(r"\{[^}+]*(\+?)\}", r"{\1}", path)


def _assign_events(drafts: list[_Draft], spec: AppSpec, diagnostics: list[Diagnostic]) -> None:
    """Give each function its gateway routes; the first route in dispatch order wins a
    gateway route that two FastAPI routes share (the monolith answers the same way)."""
    taken: dict[tuple[str, str], _Draft] = {}
    cors = CORS_MIDDLEWARE in spec.middleware
    for draft in sorted(drafts, key=lambda d: d.routes[0].index):
        for route in draft.routes:
            path = gateway_path(route)
            if path is None:
                diagnostics.append(
                    Diagnostic(
                        "warning",
                        route.key,
                        "API Gateway cannot express this path (parameters must be whole "
                        "segments and a path parameter must come last); not generated",
                    )
                )
                continue
            methods = list(route.methods) or ["ANY"]
            if cors and "OPTIONS" not in methods and "ANY" not in methods:
                # CORS preflights are answered by the app's CORSMiddleware, as in the
                # monolith: send OPTIONS for this path to its first function.
                methods.append("OPTIONS")
            for method in methods:
                key = (method, _route_pattern(path))
                owner = taken.get(key)
                if owner is None:
                    taken[key] = draft
                    draft.events.append(HttpEvent(method, path))
                elif owner is not draft and method != "OPTIONS":
                    diagnostics.append(
                        Diagnostic(
                            "info",
                            route.key,
                            f"shares the gateway route {method} {path} with function "
                            f"{owner.name!r}, which serves it (as the monolith does)",
                        )
                    )
                    if route not in owner.routes:
                        owner.routes.append(route)


def _finish(
    draft: _Draft, config: Config, spec: AppSpec, diagnostics: list[Diagnostic]
) -> Function:
    settings = _effective_settings(config, draft.settings)
    if "timeout" in draft.settings and settings.timeout > HTTP_API_TIMEOUT:
        diagnostics.append(_timeout_warning(_where(draft), settings.timeout))
    mode, not_slim = _mode(draft, spec)
    return Function(
        name=draft.name,
        logical_id=logical_id(draft.name),
        kind=draft.kind,  # type: ignore[arg-type]
        routes=tuple(draft.routes),
        events=tuple(draft.events),
        settings=settings,
        mode=mode,  # type: ignore[arg-type]
        not_slim=not_slim,
        slim_include=draft.slim_include if mode == "slim" else (),
        slim_exclude=draft.slim_exclude if mode == "slim" else (),
    )


def _mode(draft: _Draft, spec: AppSpec) -> tuple[str, str]:
    """Slim where asked for and every route has a recipe; otherwise full, saying why.

    A slim function is still a candidate here: the build-time proof
    (:mod:`fastsplit.prove`) confirms it or turns it full.
    """
    if draft.kind == "fallback":
        # The route table alone answers like FastAPI's defaults; an app whose middleware
        # or 404/405 handlers shape those answers needs the whole app to answer as it does.
        return ("full" if _fallback_needs_app(spec) else "standalone"), ""
    if draft.kind != "route" or draft.mode != "slim":
        return "full", ""
    if spec.not_slim:
        return "full", spec.not_slim
    for route in draft.routes:
        if route.not_slim:
            return "full", route.not_slim
    return "slim", ""


def not_slim_diagnostics(found: Iterable[tuple[str, str]]) -> list[Diagnostic]:
    """Why functions are full although slim mode was asked for (they still answer exactly
    like the monolith; they only import and ship the whole app): ``(where, reason)``
    pairs, one diagnostic per reason, naming every route it applies to."""
    routes: dict[str, list[str]] = {}
    for where, reason in found:
        routes.setdefault(reason, []).append(where)
    return [
        Diagnostic("info", ", ".join(wheres), NOT_SLIM + reason)
        for reason, wheres in routes.items()
    ]


def _effective_settings(config: Config, route_settings: dict[str, Any]) -> Settings:
    base = Settings(
        memory=config.memory,
        timeout=config.timeout,
        architecture=config.architecture,  # type: ignore[arg-type]
        environment=config.environment,
        reserved_concurrency=config.reserved_concurrency,
        provisioned_concurrency=config.provisioned_concurrency,
        iam_statements=config.iam_statements,
    )
    updates = dict(route_settings)
    if "environment" in updates:
        # Route variables add to (and override) the global ones.
        updates["environment"] = tuple(
            sorted((dict(config.environment) | dict(updates["environment"])).items())
        )
    if "iam_statements" in updates:
        updates["iam_statements"] = config.iam_statements + tuple(updates["iam_statements"])
    return replace(base, **updates)


def _timeout_warning(where: str, timeout: int) -> Diagnostic:
    return Diagnostic(
        "warning",
        where,
        f"timeout {timeout} s is longer than the {HTTP_API_TIMEOUT} s an HTTP API waits "
        "for a function; clients get a 503 after 30 s",
    )


def _fallback_needs_app(spec: AppSpec) -> bool:
    """Whether unmatched requests get more than FastAPI's defaults from the app."""
    return bool(spec.middleware or spec.custom_http_error_handlers)


def _fallback_full(spec: AppSpec) -> Diagnostic:
    reasons = []
    if spec.middleware:
        reasons.append("middleware " + ", ".join(m.split(":")[-1] for m in spec.middleware))
    if spec.custom_http_error_handlers:
        reasons.append("a custom 404/405 exception handler")
    return Diagnostic(
        "info",
        "fallback",
        "the fallback function imports the whole app, so that requests no route takes get "
        f"the app's {' and '.join(reasons)} (an app without them gets a fallback that "
        "answers from the route table alone, a cheaper cold start)",
    )


def diagnostic_order(diagnostic: Diagnostic) -> tuple[int, str, str]:
    rank = {"error": 0, "warning": 1, "info": 2}[diagnostic.level]
    return rank, diagnostic.where, diagnostic.message
