"""The partner kinds the simulators know, by the name the runner takes."""

from __future__ import annotations

from .bike import BikeSharing
from .canteen import Canteen
from .generator import Generator
from .transit import Transit
from .waste import WasteStation

GENERATORS: dict[str, Generator] = {
    "transit": Transit(),
    "bike": BikeSharing(),
    "waste": WasteStation(),
    "canteen": Canteen(),
}
KINDS = tuple(GENERATORS)
