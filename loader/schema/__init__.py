"""Table shape: what columns sample files carry, what Redshift types fit them, how a table
differs from its files (schema drift) and the DDL that would close the gap. Pure, except nothing:
every module here takes values and returns values (no boto3, no database, no pyarrow).

Modules: infer (types from sample values), samples (columns and values from the head of a file),
footers (Parquet / ORC schemas from a file's footer), drift (files vs table), ddl (the SQL text).
Shared by the Lambda (`create_table`, `schema_evolution`, drift in failure notices) and
`loader-admin config infer` / `config test`.
"""
