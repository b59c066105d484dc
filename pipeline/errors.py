"""Exceptions shared by the engine and its callers.

``UserError`` is the one class whose message is written for the person who caused it: the bot
turns it into an ephemeral reply and the CLI prints it, with no traceback. Anything else is a
bug or an operator problem and is logged with its traceback.
"""


class UserError(Exception):
    """An error the user caused; its message says what was wrong and what to do instead."""


class ParameterError(UserError):
    """A prompt parameter (``--ar``, ``--seed`` ...) is unknown, malformed or out of range."""


class PromptError(UserError):
    """The prompt text itself cannot be used (empty, too long, unbalanced weights)."""


class InputImageError(UserError):
    """An input image was refused: wrong format, too large, truncated or otherwise unsafe."""


class GenerationCanceled(Exception):  # noqa: N818 - it names an outcome, not a failure
    """A generation stopped between two steps because its owner or the queue asked it to."""


class EngineLostError(RuntimeError):
    """An engine is gone: the GPU failed under it and it could not be rebuilt (yet)."""


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and is fit for the operator."""


class ModelLoadError(Exception):
    """The configured model could not be loaded; the message says why and how to fix it."""


class ModelUnavailableError(UserError):
    """A job's model could not be loaded when its turn came; the owner is told, not blamed."""
