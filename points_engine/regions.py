"""Shantou's county-level divisions and the book each one is accounted in."""

from __future__ import annotations

from typing import Literal, TypeAlias

Book: TypeAlias = Literal["shantou", "nanao"]
BOOKS: tuple[Book, ...] = ("shantou", "nanao")

NANAO = "440523"
PILOT_BOOK: Book = "nanao"  # Nan'ao's carbon-neutral pilot: its actions' book

# GB/T 2260 codes of Shantou's districts and its one county (partner-api.md, "region").
SHANTOU_REGIONS: dict[str, str] = {
    "440507": "龙湖区 Longhu",
    "440511": "金平区 Jinping",
    "440512": "濠江区 Haojiang",
    "440513": "潮阳区 Chaoyang",
    "440514": "潮南区 Chaonan",
    "440515": "澄海区 Chenghai",
    NANAO: "南澳县 Nan'ao",
}


def book_of(region: str) -> Book:
    """Nan'ao's actions are booked apart for its carbon-neutral pilot; all others to the city."""
    return PILOT_BOOK if region == NANAO else "shantou"
