"""`loader-admin`, the operator's command line (Typer + Rich; never imported by the Lambda)."""
