"""How a handler tells the consumer loop what to do with a message it could not apply."""


class TransientError(Exception):
    """Worth trying again later (a dependency is down): the message is redelivered after a delay."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Can never succeed (bad input that passed decoding): the message goes to the dead-letter stream."""
