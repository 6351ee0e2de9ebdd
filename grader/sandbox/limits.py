"""Resource limits of one sandboxed submission."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """What a submission may use. Exercise specs set per-test time limits below ``wall_s``.

    Attributes
    ----------
    wall_s : float
        Upper bound of one test's wall clock (a spec's own time limit is used when smaller).
    cpu_s : float
        CPU seconds for one child process (all the tests it runs, plus the import).
    memory_mb : int
        Address space the child may add on top of the warm worker's own (``RLIMIT_AS``).
    fsize_mb : int
        Largest file the child may write (``RLIMIT_FSIZE``), so also the largest output.
    nofile : int
        Open file descriptors (``RLIMIT_NOFILE``).
    disk_mb : int
        All the files a child may write together: under bubblewrap the size of the tmpfs that
        is its only writable place (a real quota); with limits only, polled every 0.1 s. All of
        a job's outputs together count toward it too.
    import_wall_s : float
        Wall clock for running the submission's module body (its imports and top-level code).
    """

    wall_s: float = 10.0
    cpu_s: float = 30.0
    memory_mb: int = 512
    fsize_mb: int = 64
    nofile: int = 64
    import_wall_s: float = 5.0
    disk_mb: int = 128

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s", "memory_mb", "fsize_mb", "nofile", "import_wall_s",
                     "disk_mb"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxLimits.{name} must be a positive number, got {value!r}")
        if self.nofile < 16:
            raise ValueError(f"SandboxLimits.nofile must be at least 16, got {self.nofile!r}")

    def to_wire(self) -> dict[str, float]:
        """The limits as the warm worker reads them (bytes and seconds)."""
        return {
            "cpu": float(self.cpu_s),
            "mem": int(self.memory_mb * MB),
            "fsize": int(self.fsize_mb * MB),
            "nofile": int(self.nofile),
            "import_wall": float(self.import_wall_s),
            "disk": int(self.disk_mb * MB),
        }


DEFAULT_LIMITS = SandboxLimits()
