"""Every Redshift type a configuration may name, in its canonical spelling, on a real PostgreSQL:
what a `postgres` target's `create_table` and `schema_evolution: add_columns` would send.

PostgreSQL takes them all (TIMETZ included) but SUPER and VARBYTE, which `config validate`
refuses for a `postgres` target (config/redshift_types.py, `postgres_problem`).
"""

from __future__ import annotations

import psycopg2
import pytest

from config.redshift_types import CANONICAL_NAMES, normalize_type, postgres_problem
from loader.schema import ddl
from redshift_standin.postgres import EmbeddedPostgres

# Every canonical name, and the widest spellings the unattended inference proposes.
SPELLINGS = sorted({*CANONICAL_NAMES, "VARCHAR(MAX)", "CHAR(MAX)", "DECIMAL(38,10)"})


@pytest.mark.parametrize("spelled", SPELLINGS)
def test_postgresql_creates_every_type_config_validate_lets_a_postgres_target_name(
    postgres: EmbeddedPostgres, spelled: str
) -> None:
    canonical = normalize_type(spelled)
    statement = ddl.create_table_sql("types_probe", [ddl.ColumnSpec("c", canonical)])
    conn = psycopg2.connect(postgres.dsn)
    try:
        with conn.cursor() as cur:
            if postgres_problem(canonical) is None:
                cur.execute(statement)  # GIVEN an accepted type THEN PostgreSQL has it
            else:
                with pytest.raises(psycopg2.errors.UndefinedObject):
                    cur.execute(statement)
    finally:
        conn.rollback()
        conn.close()
