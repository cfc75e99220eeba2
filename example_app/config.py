"""Runtime settings, read from the environment when the app starts (not at import time)."""

import os
import tempfile
from dataclasses import dataclass

# Lambda can only write below /tmp, so the default database lives in the temp directory.
DEFAULT_DB_PATH = os.path.join(tempfile.gettempdir(), "example_app.sqlite3")


@dataclass(frozen=True)
class Settings:
    db_path: str
    api_key: str
    secret_key: str

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            db_path=os.environ.get("EXAMPLE_APP_DB", DEFAULT_DB_PATH),
            api_key=os.environ.get("EXAMPLE_APP_API_KEY", "secret"),
            secret_key=os.environ.get("EXAMPLE_APP_SECRET_KEY", "dev-secret-key"),
        )
