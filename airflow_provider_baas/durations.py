"""The one way a duration is written in this provider's log lines and messages.

Standard library only: imported by modules that DAG files import.
"""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    """``0.5s``, ``15.0s``, ``1m05.0s``, ``2h03m00.0s``: tenths of a second, larger units when needed.

    One format everywhere, so a reader can compare a retry wait with a poll interval or an age at a
    glance and grep for either.

    :param seconds: a duration; negative values are written with a leading ``-``, non-finite as is.
    """
    if not math.isfinite(seconds):
        return str(seconds)
    sign, rest = ("-", -seconds) if seconds < 0 else ("", seconds)
    tenths = round(rest * 10)
    minutes, tenths = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{tenths / 10:04.1f}s"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{tenths / 10:.1f}s"
