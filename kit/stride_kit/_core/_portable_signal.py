"""The ``signal`` names the verdicts read, on every OS (Windows has no SIGXCPU or SIGKILL).

A number that an OS does not have is never the number of a real signal there, so comparing
with it is simply false.
"""

import signal as _signal

Signals = _signal.Signals
SIGXCPU = getattr(_signal, "SIGXCPU", -24)
SIGKILL = getattr(_signal, "SIGKILL", -9)
