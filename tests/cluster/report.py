"""The figures of a cluster fault run, their verdict and the table printed with it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Report:
    jobs: int = 0
    top_level: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    failed_without_reason: int = 0
    unfinished: int = 0
    claims: int = 0
    double_runs: int = 0
    image_calls: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    lease_rescues: int = 0
    rescue_delays: list[float] = field(default_factory=list)
    released_for_outage: int = 0
    attempts_used: Counter[int] = field(default_factory=Counter)
    http_statuses: Counter[str] = field(default_factory=Counter)
    events: int = 0
    id_holes: int = 0
    late_commits: int = 0
    sse_clients: int = 0
    sse_missing: int = 0
    sse_repeated: int = 0
    sse_reconnects: int = 0
    sse_resume_seconds: list[float] = field(default_factory=list)
    objects: int = 0
    orphan_objects: int = 0  # objects without a row that no kill explains
    orphans_left_by_kill: int = 0
    swept: int = 0
    orphans_after_sweep: int = 0
    missing_objects: int = 0
    died_on_their_own: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def ok(self) -> bool:
        return not (self.failed_without_reason or self.unfinished or self.double_runs or self.sse_missing
                    or self.sse_repeated or self.orphan_objects or self.orphans_after_sweep or self.missing_objects
                    or self.died_on_their_own
                    or self.http_statuses.get("500"))

    def table(self, title: str) -> str:
        rescue = (f"{min(self.rescue_delays):.1f}–{max(self.rescue_delays):.1f} s" if self.rescue_delays else "–")
        resume = (f"{min(self.sse_resume_seconds):.2f}–{max(self.sse_resume_seconds):.2f} s"
                  if self.sse_resume_seconds else "–")
        rows = [
            ("jobs (top-level + batch children)", f"{self.jobs} ({self.top_level} created over HTTP)"),
            ("ended", ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items()))),
            ("failed without a reason / unfinished", f"{self.failed_without_reason} / {self.unfinished}"),
            ("claims / bodies run twice for one claim", f"{self.claims} / {self.double_runs}"),
            ("attempts used (jobs by count)", ", ".join(f"{k}: {v}" for k, v in sorted(self.attempts_used.items()))),
            ("lease rescues after worker kills (kill → rescue)", f"{self.lease_rescues} ({rescue})"),
            ("jobs released by a database outage (no attempt used)", str(self.released_for_outage)),
            ("image provider calls / injected faults", f"{self.image_calls} / "
             + ", ".join(f"{k} {v}" for k, v in sorted(self.injected.items()))),
            ("HTTP answers while creating", ", ".join(f"{k} {v}" for k, v in sorted(self.http_statuses.items()))),
            ("events / id holes (rolled back) / late commits", f"{self.events} / {self.id_holes} / {self.late_commits}"),
            ("SSE clients / reconnects / resume after replica kill", f"{self.sse_clients} / {self.sse_reconnects} / {resume}"),
            ("SSE events missing / repeated", f"{self.sse_missing} / {self.sse_repeated}"),
            ("objects in S3 / rows without object", f"{self.objects} / {self.missing_objects}"),
            ("objects without row: left by a kill / other / after sweep",
             f"{self.orphans_left_by_kill} / {self.orphan_objects} / {self.orphans_after_sweep} ({self.swept} swept)"),
            ("processes that died on their own", str(len(self.died_on_their_own))),
            ("wall time", f"{self.seconds:.1f} s"),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [title, *[f"  {name.ljust(width)}  {value}" for name, value in rows], "  faults:"]
        lines += [f"    {f}" for f in self.faults]
        return "\n".join(lines)
