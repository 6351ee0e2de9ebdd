"""The instructor's side: the pages (`views`), the gradebook, regrades, the course-scoped queries
behind them, per-problem statistics and CSV exports."""
