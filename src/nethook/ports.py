"""The small interfaces behind which side effects live. Real adapters are in ``adapters/``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import List, Optional, Protocol, Tuple

from nethook.model import Observed
from nethook.ops import Op

# (errno, kernel message); errno 0 means the kernel acknowledged the operation.
Outcome = Tuple[int, str]


class Netlink(Protocol):
    """The kernel's routing state, read and written over rtnetlink."""

    def observe(self, ifnames: Collection[str], tables: Optional[Collection[int]]) -> Observed:
        """Links present (by name), the addresses of ``ifnames`` (with which of them are
        dynamic), the routes of ``tables`` (all interfaces; None: every table), and every
        policy rule of both families.

        Raises ObserveError when anything cannot be read: never a partial result.
        """
        ...

    def execute(self, ops: Sequence[Op]) -> List[Outcome]:
        """Run the operations in order; return one outcome per operation.

        An outcome is (errno, the kernel's extended-ack message or ""); errno 0 is success.
        A refusal of one operation never raises; only a failure of the socket itself does
        (as NethookError), and then nothing more is sent.
        """
        ...

    def close(self) -> None: ...
