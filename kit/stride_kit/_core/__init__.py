"""The grader's own code, copied into the kit when it was built (see ``grader.kit.extract``).

Two small stand-ins are the kit's own: ``_nbformat`` (notebooks read without nbformat when it
is not installed) and ``_portable_signal`` (signal numbers that exist on every OS).
"""
