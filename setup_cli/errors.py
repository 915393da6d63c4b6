"""Which failures are expected (message + exit code) and how they are worded."""

from __future__ import annotations

from setup_cli.output import err, validation_lines

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ATTENTION = 3


def expected_errors() -> tuple[type[BaseException], ...]:
    import yaml
    from botocore.exceptions import BotoCoreError, ClientError
    from pydantic import ValidationError

    from loader.errors import LoaderError

    return (LoaderError, ValidationError, BotoCoreError, ClientError, yaml.YAMLError, OSError)


def describe(exc: BaseException) -> str:
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "invalid configuration:\n  " + "\n  ".join(validation_lines(exc))
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/..."
    if isinstance(exc, NoRegionError):
        return "no AWS region: use --region or AWS_REGION"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    text = str(exc)
    if "ResourceNotFoundException" in text:
        text += "\n  (wrong --region or table names? `loader-admin tables create` creates them)"
    return text


def report(exc: BaseException) -> None:
    from rich.text import Text

    err.print(Text.assemble(("error:", "red"), " ", describe(exc)))
