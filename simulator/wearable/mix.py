"""`--mix normal=0.9,af=0.05,pvc=0.03,noisy=0.02`: the share of stream time in each condition."""

from __future__ import annotations

from dataclasses import dataclass

from edgeloop.simulator.errors import MixError

CONDITIONS = ("normal", "af", "pvc", "noisy")
DEFAULT_MIX = "normal=0.9,af=0.05,pvc=0.03,noisy=0.02"


@dataclass(frozen=True)
class Mix:
    """Expected fraction of device time per condition (normal, af, pvc, noisy); sums to 1."""

    normal: float = 0.9
    af: float = 0.05
    pvc: float = 0.03
    noisy: float = 0.02

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in CONDITIONS}

    def __str__(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in self.as_dict().items())


def parse_mix(text: str) -> Mix:
    """Parse `name=fraction,...`; omitted conditions are 0. MixError names the faulty field."""
    values = dict.fromkeys(CONDITIONS, 0.0)
    seen: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep:
            raise MixError(f"mix field {part!r}: expected name=fraction")
        if name not in values:
            raise MixError(f"mix field {name!r}: unknown condition (use {', '.join(CONDITIONS)})")
        if name in seen:
            raise MixError(f"mix field {name!r}: given twice")
        seen.add(name)
        try:
            value = float(raw)
        except ValueError:
            raise MixError(f"mix field {name!r}: {raw.strip()!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            raise MixError(f"mix field {name!r}: {value:g} is not a fraction in [0, 1]")
        values[name] = value
    if not seen:
        raise MixError("mix is empty: expected e.g. " + DEFAULT_MIX)
    total = sum(values.values())
    if abs(total - 1.0) > 1e-6:
        raise MixError(f"mix fractions sum to {total:.6g}, expected 1 (within 1e-6)")
    return Mix(**values)
