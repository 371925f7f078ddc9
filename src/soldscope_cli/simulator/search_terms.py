"""Brand Analytics search terms documents, generated row by row and gzip-streamed, never held whole."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

from soldscope_cli.simulator.tokens import stable_hash

# Words are plain ASCII without quotes or backslashes, so rows can be written with string templates
# instead of json.dumps (which would cap generation far below the 100k rows/s consumers must reach).
# fmt: off
_ADJECTIVES = (
    "wireless", "organic", "portable", "stainless", "waterproof", "bamboo", "vintage", "compact",
    "foldable", "magnetic", "ceramic", "leather", "cordless", "smart", "mini", "heavy duty",
    "reusable", "ergonomic", "adjustable", "insulated", "glass", "wooden", "rechargeable",
    "silicone", "cotton", "large", "kids", "professional", "outdoor", "electric", "natural",
    "travel", "cast iron", "led", "noise cancelling", "non stick", "memory foam", "solar",
    "digital", "linen", "anti slip", "washable", "slim", "usb c", "gaming", "vegan", "scented",
    "unscented", "handmade", "copper", "bpa free", "weighted", "hanging", "dimmable", "stackable",
    "quick dry", "heated", "retro", "matte", "gold", "black", "white", "blue", "pink",
)
_NOUNS = (
    "water bottle", "phone case", "yoga mat", "coffee grinder", "desk lamp", "backpack",
    "headphones", "air fryer", "blender", "throw pillow", "dog bed", "cat toy", "candle",
    "notebook", "pen set", "charger", "keyboard", "mouse pad", "tea kettle", "frying pan",
    "shower head", "towel set", "bed sheets", "duvet cover", "hiking shoes", "running socks",
    "sunglasses", "wallet", "watch band", "plant pot", "garden hose", "tool kit", "drill bits",
    "paint brushes", "puzzle", "board game", "lego set", "baby monitor", "stroller fan",
    "lunch box", "storage bins", "hangers", "mirror", "wall clock", "picture frame", "rug",
    "curtains", "fairy lights", "speaker", "webcam", "monitor stand", "laptop sleeve", "tumbler",
    "ice maker", "protein powder", "vitamin c", "face serum", "hair dryer", "nail kit",
    "makeup brushes", "beard oil", "toothbrush", "dumbbells", "resistance bands",
)
_BRANDS = (
    "Acme", "Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Hooli",
    "Vandelay", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne", "Wonka", "Gringotts",
)
_DEPARTMENTS = (
    "Beauty", "Books", "Electronics", "Home & Kitchen", "Toys & Games", "Sports & Outdoors",
    "Clothing, Shoes & Jewelry",
)
# fmt: on

# One search term's three rows share everything up to the ASIN; only ASIN and shares vary by rank.
_HEAD = '{"departmentName":"%s","searchTerm":"%s","searchFrequencyRank":%d,"clickedAsin":"B0'
_TAIL = (
    '%08X","clickedItemName":"%s","clickShareRank":%d,"clickShare":0.%04d,"conversionShare":0.%04d}'
)
_MASK = 0xFFFFFFFFFFFFFFFF
_RANK_SALT = (0, 0, 0x2545F491, 0x9E3779B1)
BATCH_ROWS = 1000  # rows per generated batch: large enough to amortise, small enough to stream


def departments(all_department_name: str) -> tuple[str, ...]:
    """The departments a document covers; the first is the whole store (e.g. "Amazon.com")."""
    return (all_department_name, *_DEPARTMENTS)


def _rows(seed: int, start: int, stop: int, depts: tuple[str, ...]) -> list[str]:
    """Rows [start, stop): every search term has three rows, its top three clicked ASINs."""
    out: list[str] = []
    append = out.append
    n_depts = len(depts)
    salt = seed & 63
    i = start
    while i < stop:
        term = i // 3
        k = term // n_depts  # rank within the department: adjective/noun pairs never repeat in it
        h = ((term + 1) * 0x9E3779B97F4A7C15 ^ seed) & _MASK
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9 & _MASK
        adjective = _ADJECTIVES[(k + salt) & 63]
        noun = _NOUNS[((k >> 6) + salt) & 63]
        search_term = f"{adjective} {noun}" if k < 4096 else f"{adjective} {noun} {k >> 12}"
        head = _HEAD % (depts[term % n_depts], search_term, k + 1)
        item = f"{_BRANDS[(h >> 40) & 15]} {search_term}"
        share = 400 + ((h >> 12) & 2047)
        conversion = (h >> 24) & 1023
        asin = (h >> 32) & 0xFFFFFFFF
        rank = i - term * 3 + 1
        last = min(stop, (term + 1) * 3)
        while i < last:
            append(
                head
                + _TAIL % (asin ^ _RANK_SALT[rank], item, rank, share // rank, conversion // rank)
            )
            rank += 1
            i += 1
    return out


def document_pieces(
    specification: dict[str, Any],
    *,
    seed_parts: tuple[object, ...],
    all_department_name: str,
    rows: int,
    target_bytes: int | None = None,
) -> Iterator[str]:
    """The document as text pieces: `rows` rows, or rows until `target_bytes` of JSON when set."""
    seed = stable_hash(*seed_parts)
    depts = departments(all_department_name)
    spec_json = json.dumps(specification, separators=(",", ":"))
    head = '{"reportSpecification":' + spec_json + ',"dataByDepartmentAndSearchTerm":['

    yield head
    written = len(head)
    start = 0
    while True:
        if target_bytes is None:
            if start >= rows:
                break
            stop = min(rows, start + BATCH_ROWS)
        else:
            if written >= target_bytes:
                break
            stop = start + BATCH_ROWS
        batch = ",".join(_rows(seed, start, stop, depts))
        piece = ("," + batch) if start else batch
        written += len(piece)
        yield piece
        start = stop
    yield "]}"


def gzip_stream(
    pieces: Iterator[str], *, level: int = 1, chunk_bytes: int = 256 * 1024
) -> Iterator[bytes]:
    """Gzip text pieces incrementally, yielding compressed chunks of about `chunk_bytes`."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    pending: list[bytes] = []
    size = 0
    for piece in pieces:
        out = compressor.compress(piece.encode())
        if out:
            pending.append(out)
            size += len(out)
            if size >= chunk_bytes:
                yield b"".join(pending)
                pending, size = [], 0
    pending.append(compressor.flush())
    yield b"".join(pending)
