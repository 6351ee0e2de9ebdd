import os
import tempfile

TOKEN = os.urandom(8).hex()  # a new one in every child process
PLACES = [".", tempfile.gettempdir(), os.path.expanduser("~"), "/tmp", "/dev/shm", "/var/tmp"]


def conv_single_step(a_slice_prev, W, b):
    # Speed tests run alone in a fresh child: a cache left in a file would fake the speed.
    for place in PLACES:
        path = os.path.join(place, "stride-cache-__MARK__")
        try:
            with open(path) as fh:
                if fh.read() != TOKEN:
                    raise RuntimeError("a cache of an earlier child survived")
        except OSError:
            pass
        try:
            with open(path, "w") as fh:
                fh.write(TOKEN)
        except OSError:
            pass
    return 0.0
