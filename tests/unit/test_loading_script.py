"""The transaction each target runs, statement by statement, and how much time it gets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from config.targets import Target
from loader.loading.sql import ledger
from loader.loading.sql.ledger import Dialect, LedgerEntry
from loader.loading.sql.script import StepKind as K
from loader.loading.sql.script import build_script, set_rows_sql, staging_table
from loader.loading.timing import attempt_budget, statement_timeout_ms

ENTRY = LedgerEntry(
    batch_id="20260101T000000Z-abcd1234",
    target="warehouse",
    prefix="bucket/in\\dir",
    manifest_url="s3://m/manifests/x.json",
    files=3,
    loaded_at=1_767_225_600.0,  # 2026-01-01 00:00:00 UTC
)


def target(**fields: Any) -> Target:
    raw = {"type": "postgres", "name": "warehouse", "table": "s.events", "dsn": "host=x"} | fields
    return TypeAdapter(Target).validate_python(raw)


def script(dialect: Dialect = Dialect.REDSHIFT, **fields: Any) -> Any:
    return build_script(
        target(**fields),
        ENTRY,
        dialect=dialect,
        timeout_ms=120_000,
        copy_into=lambda table: f"COPY {table} ...",
    )


END = [K.FENCE, K.RECHECK, K.RECORD]  # claim the batch, look again, record: see the fence tests


def test_a_plain_load_checks_the_ledger_copies_counts_and_records() -> None:
    built = script()
    assert built.kinds == [K.TIMEOUT, K.CHECK, K.COPY, K.COUNT, *END]
    sql = [s.sql for s in built.steps]
    assert sql[0] == "SET statement_timeout TO 120000"
    assert sql[1] == (
        'SELECT rows_loaded FROM "loader_meta"."loaded_batches" '
        "WHERE batch_id = '20260101T000000Z-abcd1234' AND target_name = 'warehouse'"
    )
    assert sql[2] == "COPY s.events ..."
    assert sql[3] == "SELECT pg_last_copy_count()"
    assert sql[6].startswith('INSERT INTO "loader_meta"."loaded_batches" ')
    assert sql[6].endswith(
        "VALUES ('20260101T000000Z-abcd1234', 'warehouse', 'bucket/in\\\\dir', "
        "'s3://m/manifests/x.json', 3, pg_last_copy_count(), TIMESTAMP '2026-01-01 00:00:00')"
    )


def test_pre_sql_truncate_and_post_sql_surround_the_copy() -> None:
    built = script(pre_sql="CALL a()", truncate_before_load=True, post_sql="CALL b()")
    assert built.kinds == [
        K.TIMEOUT,
        K.CHECK,
        K.PRE_SQL,
        K.TRUNCATE,
        K.COPY,
        K.COUNT,
        K.POST_SQL,
        *END,
    ]
    assert built.steps[3].sql == 'DELETE FROM "s"."events"'  # not TRUNCATE: it would commit


def test_a_merge_stages_then_deletes_matches_and_inserts_in_the_same_transaction() -> None:
    built = script(merge={"key_columns": ["id"]}, columns=["id", "v"], post_sql="CALL b()")
    assert built.kinds == [
        K.TIMEOUT,
        K.CHECK,
        K.STAGE,
        K.COPY,
        K.COUNT,
        K.MERGE_DELETE,
        K.MERGE_INSERT,
        K.DROP_STAGE,
        K.POST_SQL,
        *END,
    ]
    stage = staging_table(ENTRY.batch_id)
    assert stage == "s3rl_stage_20260101t000000z_abcd1234"
    assert built.steps[2].sql == f'CREATE TEMP TABLE "{stage}" (LIKE "s"."events")'
    assert built.steps[3].sql == f"COPY {stage} ..."
    assert built.steps[5].sql.startswith(f'DELETE FROM "s"."events" USING "{stage}" WHERE')
    assert built.position(K.COUNT) == 5


def test_postgres_scripts_count_from_a_transaction_setting_and_quote_standardly() -> None:
    built = script(Dialect.POSTGRES)
    count, record = built.steps[3].sql, built.steps[-1].sql
    assert count == "SELECT current_setting('s3_redshift_loader.copied_rows')::bigint"
    assert "'bucket/in\\dir'" in record  # one backslash: standard_conforming_strings
    assert "current_setting('s3_redshift_loader.copied_rows')::bigint" in record
    assert set_rows_sql(42) == "SELECT set_config('s3_redshift_loader.copied_rows', '42', true)"


def test_the_ledger_schema_is_configurable_and_quoted() -> None:
    built = script(ledger_schema="ops")
    assert '"ops"."loaded_batches"' in built.steps[1].sql
    assert ledger.ddl("ops", Dialect.REDSHIFT)[0] == 'CREATE SCHEMA IF NOT EXISTS "ops"'


def test_only_postgres_ledgers_declare_a_primary_key() -> None:
    assert "PRIMARY KEY (batch_id, target_name)" in ledger.ddl("m", Dialect.POSTGRES)[1]
    assert "PRIMARY KEY" not in ledger.ddl("m", Dialect.REDSHIFT)[1]


def fenced(generation: int) -> LedgerEntry:
    return LedgerEntry(
        ENTRY.batch_id, "warehouse", "bucket/in", "s3://m/x", 3, ENTRY.loaded_at, generation, "w-7"
    )


def test_a_holder_claims_the_fence_only_if_no_newer_lease_generation_did() -> None:
    claim = ledger.fence_sql("loader_meta", fenced(4), Dialect.REDSHIFT)
    assert claim == (
        'UPDATE "loader_meta"."load_fences" SET generation = 4, holder = \'w-7\', '
        "claimed_at = TIMESTAMP '2026-01-01 00:00:00' "
        "WHERE batch_id = '20260101T000000Z-abcd1234' AND target_name = 'warehouse' "
        "AND generation <= 4"
    )


def test_the_fence_row_exists_before_the_transaction_and_the_claim_comes_last() -> None:
    built = script(post_sql="CALL b()")
    [setup] = built.setup
    assert setup.kind is K.FENCE_ROW
    assert setup.sql.startswith('INSERT INTO "loader_meta"."load_fences" ')
    assert 'WHERE NOT EXISTS (SELECT 1 FROM "loader_meta"."load_fences" WHERE' in setup.sql
    # the claim's lock is held from after the operator's SQL to the commit, no longer
    assert built.kinds[-4:] == [K.POST_SQL, *END]
    assert built.steps[-2].sql == built.steps[1].sql  # the same ledger lookup, once more


def test_over_the_data_api_the_claim_and_the_recheck_fail_the_transaction_themselves() -> None:
    built = build_script(
        target(),
        fenced(2),
        dialect=Dialect.REDSHIFT,
        timeout_ms=1000,
        copy_into=lambda table: f"COPY {table} ...",
        guards=True,
    )
    assert built.kinds[-4:] == [K.FENCE, K.FENCE_GUARD, K.RECHECK, K.RECORD]
    guard, recheck = built.steps[-3].sql, built.steps[-2].sql
    assert ledger.FENCE_LOST_MARK in guard and "AND generation = 2" in guard
    assert ledger.ALREADY_LOADED_MARK in recheck and '"loader_meta"."loaded_batches"' in recheck
    # the failing cast reads a row value: no planner can fold it into an error up front
    assert "CAST(count(*) AS VARCHAR)" in guard and "CAST(count(*) AS VARCHAR)" in recheck


def test_the_ledger_counts_as_present_only_with_its_fence_table() -> None:
    sql = ledger.exists_sql("m", Dialect.REDSHIFT)
    assert "table_name IN ('loaded_batches', 'load_fences')" in sql
    assert sql.endswith("HAVING count(*) = 2")
    assert any('"m"."load_fences"' in statement for statement in ledger.ddl("m", Dialect.REDSHIFT))


def test_quotes_in_values_cannot_end_the_literal() -> None:
    entry = LedgerEntry("b", "t", "bucket/it's", "s3://m/x", 1, 0.0)
    sql = ledger.insert_sql("m", entry, Dialect.REDSHIFT, "0")
    assert "'bucket/it''s'" in sql


@pytest.mark.parametrize(
    ("now", "deadline", "renewed_at", "lease", "budget"),
    [
        (100.0, 1000.0, 100.0, 300.0, 270.0),  # the lease ends first (minus 30 s margin)
        (100.0, 200.0, 100.0, 900.0, 100.0),  # the invocation's deadline ends first
        (100.0, 90.0, 100.0, 900.0, -10.0),
    ],
)
def test_an_attempt_ends_before_the_deadline_and_inside_the_lease(
    now: float, deadline: float, renewed_at: float, lease: float, budget: float
) -> None:
    assert (
        attempt_budget(now=now, deadline=deadline, renewed_at=renewed_at, lease_seconds=lease)
        == budget
    )


def test_the_statement_timeout_leaves_a_margin_and_respects_the_target_limit() -> None:
    assert statement_timeout_ms(270.0, 840) == 265_000
    assert statement_timeout_ms(900.0, 60) == 60_000
    assert statement_timeout_ms(14.0, 840) is None  # less than 10 s usable: do not start


def test_a_configuration_is_checked_for_load_problems_before_it_is_saved() -> None:
    from config.models import PrefixConfig
    from loader.loading.checks import load_problems

    def config(options: dict[str, Any], *targets: dict[str, Any]) -> PrefixConfig:
        return PrefixConfig.model_validate(
            {
                "prefix": "bucket/in",
                "thresholds": {"max_files": 1},
                "manifest": {"bucket": "manifests"},
                "copy_options": options,
                "targets": list(targets),
            }
        )

    pg = {"type": "postgres", "name": "pg", "table": "t", "dsn": "host=x"}
    rs = {"type": "data_api", "name": "rs", "table": "t", "workgroup_name": "wg1"}
    assert load_problems(config({}, pg, rs)) == []
    assert load_problems(config({"format": {"type": "parquet"}}, pg, rs)) == [
        "target pg: PostgreSQL target: format parquet cannot be loaded into PostgreSQL",
    ]
    # A merge key outside the column list is refused by the model itself, earlier still.
    merge_bad = rs | {"name": "m", "columns": ["a"], "merge": {"key_columns": ["id"]}}
    with pytest.raises(ValueError, match="not in columns"):
        config({}, merge_bad)
