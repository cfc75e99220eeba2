"""One APIRouter per resource; main.py includes them with prefixes and tags."""
