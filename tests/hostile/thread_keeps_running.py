import os
import tempfile
import threading
import time


def _linger():
    # Keeps writing after the function returned, hoping to outlive the child.
    while True:
        for place in (".", tempfile.gettempdir(), "/tmp", "/dev/shm"):
            try:
                with open(os.path.join(place, "stride-linger-__MARK__"), "w") as fh:
                    fh.write("still here")
            except OSError:
                pass
        time.sleep(0.01)


def conv_single_step(a_slice_prev, W, b):
    threading.Thread(target=_linger, daemon=True).start()
    return 0.0
