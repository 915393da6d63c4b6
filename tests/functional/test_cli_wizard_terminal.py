"""`loader-admin config wizard` in a real terminal (a pty, through pexpect), as a person uses it:
a wrong answer is refused when it is given and asked again, not 20 questions later."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import yaml

LOADER_ADMIN = str(Path(sys.executable).with_name("loader-admin"))


def test_a_wrong_answer_is_refused_at_once_and_asked_again(tmp_path: Path) -> None:
    out = tmp_path / "sales.yaml"
    wizard = pexpect.spawn(
        LOADER_ADMIN,
        ["config", "wizard", "--file", str(out), "--no-store"],
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )

    def answer(question: str, text: str) -> None:
        wizard.expect_exact(question)
        wizard.sendline(text)

    answer("S3 prefix to watch", "landing/sales")
    answer("Description", "")
    answer("Data format", "csv")
    answer("Field delimiter", ",")
    answer("Header lines to skip", "1")
    answer("Quote character", '"')
    answer("Compression of the files", "gzip")
    answer("File name regex", "([a-z")  # an unclosed group: not a regular expression
    wizard.expect_exact("Not valid: ")
    answer("File name regex", r".*\.csv\.gz")  # asked again, at once
    answer("files in the batch", "100")
    answer("bytes in the batch", "0")
    answer("seconds since its first file", "300")
    answer("Manifest bucket", "loader-manifests")
    answer("Manifest prefix", "manifests")
    answer("Target type", "redshift")
    answer("Target name", "warehouse")
    answer("Table", "sales.orders")
    answer("Redshift Serverless?", "n")
    answer("Endpoint host name", "dw.example.eu-west-1.redshift.amazonaws.com")
    answer("Port", "5439")
    answer("sslmode", "verify-ca")  # asked for Redshift targets too
    answer("Database", "dev")
    answer("Database credentials", "iam")
    answer("Cluster identifier", "dw")
    answer("Database user", "loader")
    answer("IAM role ARN for COPY", "")
    answer("Empty the table before each load?", "n")
    answer("SNS topic ARN for successes", "")
    answer("... for failures", "")
    wizard.expect(pexpect.EOF)
    wizard.close()

    assert wizard.exitstatus == 0, wizard.before
    [config] = yaml.safe_load_all(out.read_text())
    assert config["filename_filter"] == r".*\.csv\.gz"
    assert config["targets"][0]["sslmode"] == "verify-ca"
