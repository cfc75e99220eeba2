"""``app`` exists but is not an ASGI application."""

app = {"routes": ["/hello"]}
