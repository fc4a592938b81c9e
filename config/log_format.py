"""Log lines as JSON, one per event, for the log shipper.

Each line has the time (UTC), level, logger, message, the request id
(``config.request_context``) and any ``extra`` fields, plus the traceback of
an exception. What goes in is decided where it is logged: ids, statuses and
error codes, never names, contact points or message bodies (DESIGN.md);
tests/config/test_log_privacy.py scans a whole send for sentinels.
"""

import datetime
import json
import logging

# Attributes every LogRecord has: the rest came from ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
