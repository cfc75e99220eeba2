"""example_app: a small but realistic FastAPI service used to exercise fastsplit.

Import the application as ``example_app.main:app``.
"""

__version__ = "1.4.0"
