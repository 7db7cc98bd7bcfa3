"""pingd: a small self-hosted ping server for cron-job and heartbeat monitoring."""

__version__ = "0.1.0"
