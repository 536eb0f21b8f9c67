"""The one interface every source of holders implements."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder


class Source:
    """A place that knows some holders. Correct about its rows is not the same as complete."""

    #: How `who` and `doctor` name this source: "presence", "ledger", "roster:<path>".
    label = "source"
    #: Whether codename may write to it (record claims, reap ghosts) or only read it.
    writable = False

    def __init__(self) -> None:
        #: Rows it could not read, each with what to do: filled by `holders()`.
        self.problems: list[str] = []
        #: Why `holders()` could not see the source at all (it may hide live holders), or "".
        self.blind = ""

    def holders(self) -> list[Holder]:
        """Every holder this source knows, alive or not; liveness is judged by the caller."""
        raise NotImplementedError

    def record(self, holder: Holder) -> None:
        """Note that `holder` now holds its name (writable sources only)."""

    def forget(self, holder: Holder, event: str) -> None:
        """Drop `holder`, because it was `released` or `reaped` (writable sources only)."""

    def describe(self) -> str:
        """Where this source lives, for `doctor`."""
        return self.label
