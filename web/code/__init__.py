"""Code exercises: the pages (`views`), a submission's life as a grading task (`task`), its two
backends (`pool` in-process, `rq` on Redis), choosing one (`backend`) and the RQ worker."""
