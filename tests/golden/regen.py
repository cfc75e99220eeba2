"""Rewrite the golden trees: ``python -m tests.golden.regen`` (``make regen-golden``)."""

from __future__ import annotations

import shutil

from tests.test_golden import CASES, GOLDEN, render_case


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
