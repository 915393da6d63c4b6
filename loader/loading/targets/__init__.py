"""One driver per target kind: Redshift over psycopg2 (redshift.py), the Redshift Data API
(data_api.py), PostgreSQL with S3 streamed into COPY FROM STDIN (postgres.py, pg_input.py); the
psycopg2 session they share (pg_session.py), the one classification of database errors
(db_errors.py), and the table before a load of any kind (table_prep.py over a small `Catalog`:
pg_session.PgCatalog, data_api.DataApiCatalog; file_samples.py).

psycopg2 is imported by these modules on first use only: an invocation that only registers files
never loads them."""
