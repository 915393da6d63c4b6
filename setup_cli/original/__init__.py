"""The import from the original loader (`loader-admin config import-original`): its
LambdaRedshiftBatchLoadConfig items converted into prefix configurations (convert.py)."""
