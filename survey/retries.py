"""The wait before retrying a failed send, shared by the e-mail outbox and webhooks."""


def backoff_seconds(attempts: int, config, prefix: str) -> float:
    """Wait after try number ``attempts`` failed: base, 2×base, 4×base… up to the cap.

    ``prefix`` names the settings: ``MAIL`` reads MAIL_RETRY_BASE_SECONDS and MAIL_RETRY_MAX_SECONDS."""
    base = float(config[f"{prefix}_RETRY_BASE_SECONDS"])
    return min(base * 2 ** max(attempts - 1, 0), float(config[f"{prefix}_RETRY_MAX_SECONDS"]))
