"""API Gateway (HTTP API) route selection: which function a request reaches.

The rules modelled by ``fastsplit.gateway.select``: the most specific path wins (a
literal segment over ``{param}`` over greedy ``{param+}``), then an exact method over
``ANY``; a request nothing matches goes to ``$default``, or is the gateway's own 404.
"""

from __future__ import annotations

import pytest

from fastsplit.gateway import GatewayRoute, routes_from_manifest, select

ROUTES = (
    GatewayRoute("GET", "/users/me", "get_users_me"),
    GatewayRoute("GET", "/users/{user_id}", "get_users_user_id"),
    GatewayRoute("DELETE", "/users/{user_id}", "delete_users_user_id"),
    GatewayRoute("ANY", "/users/{user_id}", "any_users_user_id"),
    GatewayRoute("GET", "/files/{file_path+}", "get_files_file_path"),
    GatewayRoute("GET", "/files/readme", "get_files_readme"),
    GatewayRoute("GET", "/files/{name}", "get_files_name"),
    GatewayRoute("ANY", "/static/{proxy+}", "mount_static"),
    GatewayRoute("GET", "/", "get_root"),
)
DEFAULT = GatewayRoute("ANY", "$default", "fallback")


def chosen(method: str, path: str, routes: tuple[GatewayRoute, ...] = ROUTES) -> str | None:
    route = select(routes, method, path)
    return route.function if route is not None else None


def test_literal_segment_beats_parameter() -> None:
    assert chosen("GET", "/users/me") == "get_users_me"
    assert chosen("GET", "/users/42") == "get_users_user_id"


def test_literal_beats_parameter_whatever_the_declaration_order() -> None:
    assert chosen("GET", "/users/me", tuple(reversed(ROUTES))) == "get_users_me"


def test_parameter_beats_greedy_parameter() -> None:
    assert chosen("GET", "/files/notes") == "get_files_name"


def test_literal_beats_greedy_parameter() -> None:
    assert chosen("GET", "/files/readme") == "get_files_readme"


def test_greedy_parameter_takes_several_segments() -> None:
    assert chosen("GET", "/files/a/b/c.txt") == "get_files_file_path"


def test_greedy_parameter_needs_at_least_one_segment() -> None:
    assert chosen("GET", "/files") is None
    assert chosen("GET", "/static") is None
    assert chosen("GET", "/static/app.css") == "mount_static"


def test_greedy_parameter_at_the_root_does_not_take_the_root_path() -> None:
    routes = (GatewayRoute("ANY", "/{proxy+}", "any_proxy"), DEFAULT)
    assert chosen("GET", "/", routes) == "fallback"


def test_trailing_slash_is_not_the_route_without_it() -> None:
    assert chosen("GET", "/users/me/") is None
    assert chosen("GET", "/users/me/", (*ROUTES, DEFAULT)) == "fallback"


def test_exact_method_beats_any() -> None:
    assert chosen("GET", "/users/7") == "get_users_user_id"
    assert chosen("DELETE", "/users/7") == "delete_users_user_id"


def test_any_takes_methods_without_their_own_route() -> None:
    assert chosen("PATCH", "/users/7") == "any_users_user_id"
    assert chosen("POST", "/static/upload") == "mount_static"


def test_method_is_matched_case_insensitively() -> None:
    assert chosen("delete", "/users/7") == "delete_users_user_id"


def test_other_method_on_known_path_without_any_route_is_not_matched() -> None:
    assert chosen("POST", "/files/readme") is None


def test_no_match_without_default_is_none() -> None:
    assert chosen("GET", "/nowhere") is None
    assert chosen("GET", "/users/7/extra") is None


def test_unmatched_request_goes_to_default() -> None:
    routes = (*ROUTES, DEFAULT)
    assert chosen("GET", "/nowhere", routes) == "fallback"
    assert chosen("POST", "/files/readme", routes) == "fallback"
    assert chosen("GET", "/files", routes) == "fallback"


def test_default_never_wins_over_a_matching_route() -> None:
    routes = (DEFAULT, *ROUTES)
    assert chosen("GET", "/users/me", routes) == "get_users_me"


def test_root_path_matches_only_root() -> None:
    assert chosen("GET", "/") == "get_root"
    assert chosen("POST", "/") is None


def test_parameter_does_not_match_an_empty_segment() -> None:
    routes = (GatewayRoute("GET", "/a/{x}/b", "fn"),)
    assert chosen("GET", "/a/1/b", routes) == "fn"
    assert chosen("GET", "/a//b", routes) is None


def test_routes_from_manifest_lists_every_event_with_its_function() -> None:
    manifest: dict[str, object] = {
        "functions": [
            {"name": "get_x", "events": [{"method": "GET", "path": "/x"}]},
            {
                "name": "fallback",
                "events": [{"method": "ANY", "path": "$default"}],
            },
        ]
    }
    assert routes_from_manifest(manifest) == [
        GatewayRoute("GET", "/x", "get_x"),
        GatewayRoute("ANY", "$default", "fallback"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/pets/dog/1", "get_pets_dog_1"),
        ("GET", "/pets/dog/2", "get_pets_dog_id"),
        ("GET", "/pets/cat/1", "get_pets_proxy"),
        ("POST", "/pets/cat/1", "any_proxy"),
        ("GET", "/test/6", "any_proxy"),
    ],
)
def test_aws_documented_routing_example(method: str, path: str, expected: str) -> None:
    """The example in the HTTP API docs ("Routing API requests")."""
    routes = (
        GatewayRoute("GET", "/pets/dog/1", "get_pets_dog_1"),
        GatewayRoute("GET", "/pets/dog/{id}", "get_pets_dog_id"),
        GatewayRoute("GET", "/pets/{proxy+}", "get_pets_proxy"),
        GatewayRoute("ANY", "/{proxy+}", "any_proxy"),
        DEFAULT,
    )
    assert chosen(method, path, routes) == expected
