"""A package-shaped app for slim functions: the app is assembled in ``slimapp.main``
from routers in their own modules, so each route can be rebuilt without the others.

``slimapp.heavy`` imports numpy; no other route's function may import or ship it.
"""
