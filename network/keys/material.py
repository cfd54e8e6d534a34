"""Key material as it travels through the network: real bits, or only their count.

The network runs in two modes on one code path. In ``"material"`` mode a :class:`KeyMaterial`
carries real key bits (a read-only ``uint8`` array) and relays really XOR them; in
``"accounting"`` mode it carries only the number of bits and a flag recording whether a
Byzantine relay altered them, which is all the metrics need and lets networks of thousands of
nodes run for hours. Every function here works in both modes.

Examples
--------
>>> import numpy as np
>>> a = KeyMaterial.from_bits(np.array([1, 0, 1, 1], dtype=np.uint8))
>>> b = KeyMaterial.from_bits(np.array([0, 0, 1, 0], dtype=np.uint8))
>>> xor(a, b).bits.tolist(), xor(xor(a, b), b) == a
([1, 0, 0, 1], True)
>>> counted = KeyMaterial.counted(256)
>>> counted.bits is None, counted.n_bits
(True, 256)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = ["KEY_MODES", "KeyMaterial", "xor"]

KEY_MODES: tuple[str, str] = ("accounting", "material")
"""``"accounting"``: bit counts only; ``"material"``: real key bits."""


@dataclass(frozen=True, eq=False)
class KeyMaterial:
    """A block of key bits (material mode) or its bit count (accounting mode).

    Attributes
    ----------
    n_bits : int
        Number of key bits (>= 0).
    bits : numpy.ndarray or None
        The bits as a read-only ``uint8`` array of length ``n_bits`` (material mode), or ``None``
        (accounting mode).
    altered : bool
        Accounting mode only: whether a relay changed the bits on the way (in material mode the
        bits themselves tell, and this stays ``False``).
    """

    n_bits: int
    bits: np.ndarray | None = field(default=None, repr=False)
    altered: bool = False

    def __post_init__(self) -> None:
        if type(self.n_bits) is int and self.bits is None and self.n_bits >= 0:
            return  # the common accounting-mode case, checked cheaply
        if isinstance(self.n_bits, bool) or not isinstance(self.n_bits, numbers.Integral):
            raise TypeError(f"n_bits={self.n_bits!r} must be an integer")
        if self.n_bits < 0:
            raise ValueError(f"n_bits={self.n_bits!r} must be >= 0")
        object.__setattr__(self, "n_bits", int(self.n_bits))
        if self.bits is not None:
            bits = np.asarray(self.bits)
            if bits.dtype != np.uint8 or bits.ndim != 1 or bits.size != self.n_bits:
                raise ValueError(
                    f"bits must be a 1-D uint8 array of n_bits={self.n_bits} elements, "
                    f"got dtype {bits.dtype} and shape {bits.shape}"
                )
            if self.altered:
                raise ValueError("altered applies to accounting mode (bits=None) only")
            if bits.flags.writeable:
                bits = bits.copy()
                bits.setflags(write=False)
            object.__setattr__(self, "bits", bits)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> KeyMaterial:
        """Material-mode key from a 0/1 array (copied, then read-only)."""
        array = np.asarray(bits)
        if array.ndim != 1 or (array.size and (array.min() < 0 or array.max() > 1)):
            raise ValueError("bits must be a one-dimensional array of 0/1 values")
        return cls(n_bits=int(array.size), bits=array.astype(np.uint8))

    @classmethod
    def counted(cls, n_bits: int, *, altered: bool = False) -> KeyMaterial:
        """Accounting-mode key of ``n_bits`` bits."""
        return cls(n_bits=n_bits, bits=None, altered=altered)

    @property
    def mode(self) -> str:
        """``"material"`` when real bits are carried, else ``"accounting"``."""
        return "accounting" if self.bits is None else "material"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyMaterial):
            return NotImplemented
        if self.n_bits != other.n_bits or self.mode != other.mode:
            return False
        if self.bits is None:
            return self.altered == other.altered
        return bool(np.array_equal(self.bits, other.bits))

    __hash__ = None  # type: ignore[assignment]  # mutable-free but compared by content

    def __repr__(self) -> str:
        # Never print key bits.
        extra = ", altered=True" if self.altered else ""
        return f"KeyMaterial(n_bits={self.n_bits}, mode={self.mode!r}{extra})"


def xor(a: KeyMaterial, b: KeyMaterial) -> KeyMaterial:
    """One-time-pad ``a XOR b`` (same length and mode).

    In accounting mode the result is marked altered when either operand is.
    """
    if not isinstance(a, KeyMaterial) or not isinstance(b, KeyMaterial):
        raise TypeError("xor takes two KeyMaterial blocks")
    if a.n_bits != b.n_bits:
        raise ValueError(f"cannot XOR blocks of {a.n_bits} and {b.n_bits} bits")
    if a.mode != b.mode:
        raise ValueError(f"cannot XOR a {a.mode}-mode block with a {b.mode}-mode block")
    if a.bits is None:
        return KeyMaterial.counted(a.n_bits, altered=a.altered or b.altered)
    return KeyMaterial(n_bits=a.n_bits, bits=np.bitwise_xor(a.bits, b.bits))
