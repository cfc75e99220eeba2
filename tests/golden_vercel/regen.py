"""Rewrite the Vercel golden trees: ``python -m tests.golden_vercel.regen``.

Each ``tests/golden_vercel/<case>/`` holds what ``fastsplit build --target vercel`` writes
into ``build/vercel/`` for that case (tests/test_vercel.py ``CASES``), without the app's own
files and the verbatim runtime copy. Review the diff after a deliberate generator change.
"""

from __future__ import annotations

import shutil

from tests.test_vercel import CASES, GOLDEN, render_case


def main() -> None:
    for name in sorted(CASES):
        root = GOLDEN / name
        shutil.rmtree(root, ignore_errors=True)
        for path, text in render_case(name).items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        print(f"wrote {root}")


if __name__ == "__main__":
    main()
