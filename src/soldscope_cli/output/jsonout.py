"""Machine output: JSON written the same way by every command."""

from __future__ import annotations

import json
from typing import IO, Any


def print_json(stream: IO[str], data: Any) -> None:
    """Machine output, key order kept: an array one element per line, anything else indented."""
    if isinstance(data, list) and data:
        # One compact element a line: grep- and diff-friendly, and json's C encoder only runs
        # without indent (indenting 1,000 stores in pure Python costs 20-40 ms).
        body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in data)
        stream.write("[\n" + body + "\n]\n")
    else:
        stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    stream.flush()
