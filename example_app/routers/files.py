"""Text documents stored in SQLite and addressed by a slash-separated path."""

import mimetypes

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse

from example_app.deps import DB
from example_app.models import FileInfo

router = APIRouter()


@router.get("")
def list_files(conn: DB) -> list[FileInfo]:
    rows = conn.execute("SELECT path, length(content) AS size FROM files ORDER BY path")
    return [FileInfo(path=row["path"], size=row["size"]) for row in rows]


@router.get("/{file_path:path}", response_class=PlainTextResponse)
def read_file(conn: DB, file_path: str) -> PlainTextResponse:
    row = conn.execute("SELECT content FROM files WHERE path = ?", (file_path,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"File {file_path!r} does not exist")
    media_type = mimetypes.guess_type(file_path)[0] or "text/plain"
    return PlainTextResponse(row["content"], media_type=media_type)
