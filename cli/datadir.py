"""``--data-dir DIR``: where the demo keeps what it did, and where ``drugfree db`` finds it.

A demo's directory holds ``postgres/`` (the embedded PostgreSQL cluster with the event store),
``notifications.log`` (the log channel's messages) and ``demo.json`` (what ran: plan, seed,
communes, and whether it finished). The demo claims a new or empty directory and refuses one
that already holds a run: the workflows ran on a throwaway time-skipping Temporal server, so
a run cannot be resumed, and a second year on the same event store would collide with the
first one's streams.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.errors import fail
from eventstore.embedded import holds_cluster

MARKER = "demo.json"


@dataclass(frozen=True)
class DemoDir:
    path: Path  # absolute

    @property
    def pgdata(self) -> Path:
        return self.path / "postgres"

    @property
    def log(self) -> Path:
        return self.path / "notifications.log"

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    @property
    def shell(self) -> str:
        """The directory as a command line argument."""
        return shlex.quote(str(self.path))

    @classmethod
    def claim(cls, given: Path, record: dict[str, Any]) -> DemoDir:
        """Take ``given`` for a new demo run, or refuse (exit 2, one line) if it is in use."""
        path = given.expanduser().absolute()
        here = cls(path)
        if path.exists() and not path.is_dir():
            fail(f"--data-dir {path}: không phải là thư mục / not a directory")
        if here.marker.is_file():
            before = here.read()
            what = (f"kế hoạch {before.get('plan', '?')}, seed {before.get('seed', '?')}, "
                    + ("đã chạy xong" if before.get("finished") else "bị dừng giữa chừng"))
            fail(f"--data-dir {path} đã chứa một lần chạy demo ({what}); xem lại bằng "
                 f"`drugfree db verify --data-dir {here.shell}`, hoặc chọn một thư mục mới "
                 "(hay xóa thư mục này) để chạy lại")
        if path.is_dir() and any(path.iterdir()):
            fail(f"--data-dir {path}: thư mục không trống; hãy chọn một thư mục mới hoặc trống")
        path.mkdir(parents=True, exist_ok=True)
        here.write({**record, "started": datetime.now(UTC).isoformat(timespec="seconds"),
                    "finished": False})
        return here

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, record: dict[str, Any]) -> None:
        self.marker.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n",
                               encoding="utf-8")

    def finish(self, **more: Any) -> None:
        self.write({**self.read(), **more, "finished": True})


def cluster_of(given: Path) -> Path:
    """The PostgreSQL cluster of ``--data-dir`` for ``drugfree db``: a demo's directory (its
    ``postgres/``) or a cluster directory itself; refuse (exit 2) anything else."""
    path = given.expanduser().absolute()
    for candidate in (DemoDir(path).pgdata, path):
        if holds_cluster(candidate):
            return candidate
    fail(f"--data-dir {path}: no PostgreSQL data here (expected the directory of "
         "`drugfree demo --data-dir`)")
