"""The old dotted path of the RQ job, kept only for jobs queued before `web.code.rq` existed.

Each RQ job stores the dotted path of its function in Redis; jobs enqueued by earlier versions
name `web.queue.grade_job`. This module keeps that one name importable until those jobs have
drained (new jobs name `web.code.rq.grade_job`); it is the contract's only re-export.
"""

from web.code.rq import grade_job

__all__ = ["grade_job"]
