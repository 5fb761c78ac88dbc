"""Is the internet there? A quick, bounded probe used before any download.

Offline classrooms and CI must get a clear message in seconds, not a hang: the
probe opens one TCP connection with a timeout, and runs name resolution in a
daemon thread so a broken resolver cannot block the caller either.

Example
-------
>>> can_connect("localhost", 9, timeout=0.5) in (True, False)
True
"""

import socket
import threading

__all__ = ["can_connect"]


def can_connect(host, port=443, *, timeout=2.0):
    """True if a TCP connection to ``host:port`` opens within about ``timeout`` s.

    >>> can_connect("nonexistent.invalid", timeout=0.5)
    False
    """
    result = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])
