"""The S3 -> Redshift loader Lambda."""
