"""The applier: runs a plan through the Netlink port and judges each answer by errno."""

from __future__ import annotations

import enum
import errno
import logging
import os
from dataclasses import dataclass
from typing import Dict, FrozenSet, Tuple

from nethook.model.ops import Op, Plan, Verb
from nethook.model.ports import Netlink

log = logging.getLogger(__name__)
changes = logging.getLogger("nethook.change")  # base.logs.CHANGES: one line per change


class Status(enum.Enum):
    APPLIED = "applied"  # the kernel did it
    ALREADY = "already"  # the kernel already had it that way (an add met EEXIST, ...)
    FAILED = "failed"


# The whole errno policy. Anything not listed is a failure.
_DONE_ALREADY: Dict[Verb, FrozenSet[int]] = {
    Verb.ADD: frozenset({errno.EEXIST}),
    Verb.REPLACE: frozenset(),
    Verb.DELETE: frozenset({errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL}),
}


@dataclass(frozen=True)
class OpResult:
    op: Op
    status: Status
    errno: int = 0
    message: str = ""

    def describe(self) -> str:
        if self.status is Status.FAILED:
            return f"{self.op.describe()}: {self.reason}"
        return f"{self.op.describe()}: {self.status.value}"

    @property
    def reason(self) -> str:
        name = errno.errorcode.get(self.errno, str(self.errno))
        text = self.message or os.strerror(self.errno)
        return f"{text} ({name})"


@dataclass(frozen=True)
class ApplyReport:
    results: Tuple[OpResult, ...] = ()

    @property
    def failed(self) -> Tuple[OpResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAILED)

    @property
    def applied(self) -> Tuple[OpResult, ...]:
        return tuple(r for r in self.results if r.status is Status.APPLIED)

    @property
    def ok(self) -> bool:
        return not self.failed


def judge(op: Op, code: int, message: str) -> OpResult:
    if code == 0:
        return OpResult(op, Status.APPLIED)
    if code in _DONE_ALREADY[op.verb]:
        return OpResult(op, Status.ALREADY, code)
    return OpResult(op, Status.FAILED, code, message)


def apply(plan: Plan, netlink: Netlink, why: str = "") -> ApplyReport:
    """Send every operation; one refusal never stops the others. Each change the kernel
    made is one line of the ``nethook.change`` log (syslog), with ``why``."""
    if not plan.ops:
        return ApplyReport()
    outcomes = netlink.execute(plan.ops)
    if len(outcomes) != len(plan.ops):
        raise AssertionError("netlink adapter returned a wrong number of outcomes")
    results = tuple(judge(op, code, message) for op, (code, message) in zip(plan.ops, outcomes))
    context = f" ({why})" if why else ""
    for result in results:
        if result.status is Status.FAILED:
            log.warning("failed: %s%s", result.describe(), context)
        elif result.status is Status.APPLIED:
            changes.info("%s%s", result.op.describe(), context)
        else:
            log.debug("%s", result.describe())
    return ApplyReport(results)
