# shellcheck shell=bash
# workflows: status (text, --json, --check), plan and --dry-run.

test_workflows_status_states_and_json() {
	need_tools python3
	app_role
	migdir migrations \
		0001_a.sql 'CREATE TABLE wf1 (id int);' \
		0003_c.sql 'CREATE TABLE wf3 (id int);' \
		0004_gone.sql 'CREATE TABLE wf4 (id int);'
	pgb_run migrate
	assert_exit 0
	rm migrations/0004_gone.sql
	printf '%s\n' 'CREATE TABLE wf1 (id bigint);' >migrations/0001_a.sql
	printf '%s\n' 'CREATE TABLE wf2 (id int);' >migrations/0002_b.sql
	printf '%s\n' '-- pgboot:no-transaction' 'CREATE TABLE wf5 (id int);' 'SELECT 1/0;' >migrations/0005_nt.sql
	printf '%s\n' 'CREATE TABLE wf6 (id int);' >migrations/0006_f.sql
	# 0005 stops midway: run it alone through a directory holding only the applied files and it
	cp -r migrations "$PGB_WORK/partial"
	rm "$PGB_WORK/partial/0001_a.sql" "$PGB_WORK/partial/0002_b.sql" "$PGB_WORK/partial/0006_f.sql"
	pgb_run migrate --migrate-dir "$PGB_WORK/partial" --migrate-out-of-order allow
	assert_exit 65
	pgb_run status
	assert_exit 0
	assert_eq "$(printf '%s\n' 'changed 0001_a.sql' 'out-of-order 0002_b.sql' 'applied 0003_c.sql' \
		'missing 0004_gone.sql' 'partial 0005_nt.sql' 'pending 0006_f.sql')" \
		"$(awk '{ print $1, $2 }' "$PGB_OUT")" "status lines"
	assert_contains "$PGB_OUT" 'partial 0005_nt.sql (1 statement done)'
	pgb_run status --json
	assert_exit 0
	python3 - "$PGB_OUT" <<'PY' || fail "status --json is not the expected document"
import json, sys
doc = json.load(open(sys.argv[1]))
states = {m["name"]: m["state"] for m in doc["migrations"]}
assert states == {"0001_a.sql": "changed", "0002_b.sql": "out-of-order", "0003_c.sql": "applied",
                  "0004_gone.sql": "missing", "0005_nt.sql": "partial", "0006_f.sql": "pending"}, states
assert doc["database_exists"] is True and doc["applied"] == 1 and doc["not_applied"] == 5, doc
row = [m for m in doc["migrations"] if m["name"] == "0003_c.sql"][0]
assert row["version"] == 3 and len(row["checksum"]) == 64 and row["duration_ms"] >= 0, row
assert [m for m in doc["migrations"] if m["name"] == "0005_nt.sql"][0]["statements_done"] == 1
PY
	pgb_run status --check
	assert_exit 1
}

test_workflows_status_check_is_0_when_up_to_date() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE ok1 (id int);'
	pgb_run status --check
	assert_exit 1
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created by status"
	pgb_run migrate
	pgb_run status --check
	assert_exit 0
	assert_eq "applied 0001_a.sql" "$(awk '{ print $1, $2 }' "$PGB_OUT")" "status"
}

test_workflows_plan_and_dry_run_change_nothing() {
	app_role
	migdir migrations \
		0001_a.sql 'CREATE TABLE pl1 (id int);' \
		0002_wrapped.sql $'BEGIN;\nCREATE TABLE pl2 (id int);\nCREATE TABLE pl2b (id int);\nCOMMIT;' \
		0003_nt.sql $'-- pgboot:no-transaction\nCREATE INDEX CONCURRENTLY pl1_id ON pl1 (id);'
	pgb_run plan
	assert_exit 0
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created by plan"
	assert_contains "$PGB_ERR" "database \"$PGB_DB\" does not exist; it would be created"
	assert_eq "$(printf '%s\n' 'apply 0001_a.sql (one transaction, 1 statement)' \
		"apply 0002_wrapped.sql (one transaction, the file's own BEGIN, 4 statements)" \
		'apply 0003_nt.sql (no transaction, 1 statement)')" "$(cat "$PGB_OUT")" "plan"
	pgb_run run --dry-run -- touch "$PGB_WORK/app-ran"
	assert_exit 0
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran in a dry run"
	pgb_run migrate --migrate-dir migrations
	assert_exit 0
	printf '%s\n' 'CREATE TABLE pl4 (id int);' >migrations/0004_d.sql
	pgb_run migrate --dry-run
	assert_exit 0
	assert_eq 'apply 0004_d.sql (one transaction, 1 statement)' "$(cat "$PGB_OUT")" "dry run"
	assert_eq f "$(table_exists "$PGB_DB" pl4)" "table of the dry run"
	assert_contains "$PGB_ERR" 'dry run: 1 migration would be applied; nothing was changed'
}

test_workflows_plan_reports_what_a_run_would_refuse() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE pr1 (id int);'
	pgb_run migrate
	printf '%s\n' 'CREATE TABLE pr1 (id bigint);' >migrations/0001_a.sql
	pgb_run plan
	assert_exit 65
	assert_contains "$PGB_ERR" 'checksum of applied migration "0001_a.sql" has changed'
	migdir migrations 0001_a.sql 'CREATE TABLE pr1 (id int);' 0002_meta.sql '\i other.sql'
	pgb_run migrate --dry-run
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_meta.sql:1: psql meta-command "\i"'
}

test_workflows_report_options_belong_to_their_commands() {
	pgb_run migrate --json
	assert_exit 64
	pgb_run status --dry-run
	assert_exit 64
	pgb_run plan extra
	assert_exit 64
}

test_workflows_new_follows_the_directory_style() {
	pgb_run new 'Create Users!' --migrate-dir "$PGB_WORK/fresh"
	assert_exit 0
	assert_eq "$PGB_WORK/fresh/0001_create_users.sql" "$(cat "$PGB_OUT")" "path printed"
	pgb_run new add-email --migrate-dir "$PGB_WORK/fresh"
	assert_eq "$PGB_WORK/fresh/0002_add_email.sql" "$(cat "$PGB_OUT")" "next numbered file"
	migdir migrations 20240101120000_a.sql 'SELECT 1;' 20240102120000_b.sql 'SELECT 1;'
	pgb_run new 'b c'
	assert_exit 0
	assert_match "$PGB_OUT" '^migrations/20[0-9]{12}_b_c\.sql$'
	[[ $(basename "$(cat "$PGB_OUT")") > 20240102120000_b.sql ]] || fail "timestamp not after the newest"
	pgb_run new '!!!'
	assert_exit 78
	assert_contains "$PGB_ERR" 'migration name "!!!" has no letters or digits'
	pgb_run new
	assert_exit 64
}

test_workflows_rollback_runs_down_parts_newest_first() {
	app_role
	migdir migrations \
		0001_users.sql $'CREATE TABLE rb_users (id int);\n-- pgboot:down\nDROP TABLE rb_users;' \
		0002_email.sql 'ALTER TABLE rb_users ADD COLUMN email text;' \
		0002_email.down.sql 'ALTER TABLE rb_users DROP COLUMN email;' \
		0003_idx.sql $'-- pgboot:no-transaction\nCREATE INDEX CONCURRENTLY rb_idx ON rb_users (id);\n-- pgboot:down\n-- pgboot:no-transaction\nDROP INDEX CONCURRENTLY rb_idx;'
	pgb_run migrate
	assert_exit 0
	pgb_run rollback
	assert_exit 0
	assert_contains "$PGB_ERR" 'rolling back 0003_idx.sql [1/1] (no transaction)'
	assert_eq f "$(table_exists "$PGB_DB" rb_idx)" "index after one step"
	assert_eq "1,2" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	pgb_run rollback --to 0
	assert_exit 0
	assert_eq "0002_email.sql,0001_users.sql" \
		"$({ grep -oE 'rolling back [^ ]+' "$PGB_ERR" || true; } | awk '{ print $3 }' | paste -sd, -)" "order"
	assert_eq f "$(table_exists "$PGB_DB" rb_users)" "table after rolling back everything"
	assert_eq "" "$(history "$PGB_DB")" "history"
	pgb_run migrate
	assert_exit 0
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history after migrating again"
}

test_workflows_rollback_refuses_before_anything_runs() {
	app_role
	migdir migrations \
		0001_a.sql $'CREATE TABLE rf1 (id int);\n-- pgboot:down\nDROP TABLE rf1;' \
		0002_b.sql 'CREATE TABLE rf2 (id int);' \
		0003_c.sql $'CREATE TABLE rf3 (id int);\n-- pgboot:down\nDROP TABLE rf3;'
	pgb_run migrate
	pgb_run rollback --steps 2
	assert_exit 65
	assert_contains "$PGB_ERR" '"migrations/0002_b.sql" has no down part (a "-- pgboot:down" section or a .down.sql file): nothing was rolled back'
	assert_eq t "$(table_exists "$PGB_DB" rf3)" "table of the newest migration"
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
	pgb_run rollback --to 7
	assert_exit 64
	assert_contains "$PGB_ERR" 'version 7 is not applied'
	pgb_run rollback --steps 0
	assert_exit 64
	pgb_run rollback --steps 1 --to 1
	assert_exit 64
}

test_workflows_rollback_refuses_a_down_part_without_statements() {
	app_role
	migdir migrations \
		0001_a.sql $'CREATE TABLE re0 (id int);\n-- pgboot:down\nDROP TABLE re0;' \
		0002_b.sql $'CREATE TABLE re2 (id int);\n-- pgboot:down\n-- DROP TABLE re2; (to do)\n'
	pgb_run migrate
	assert_exit 0
	pgb_run rollback --to 0
	assert_exit 65
	assert_contains "$PGB_ERR" 'the down part of "0002_b.sql" (in "migrations/0002_b.sql") holds no statement: nothing was rolled back'
	assert_eq t "$(table_exists "$PGB_DB" re2)" "table of the newest migration"
	assert_eq t "$(table_exists "$PGB_DB" re0)" "table of the first migration"
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

test_workflows_rollback_error_points_into_the_down_part() {
	app_role
	migdir migrations 0001_a.sql $'CREATE TABLE re1 (id int);\n-- pgboot:down\n\nDROP TABLE no_such_table;'
	pgb_run migrate
	pgb_run rollback
	assert_exit 65
	# line 4 of the file (the down part's second line); DROP TABLE names no position
	assert_contains "$PGB_ERR" 'migrations/0001_a.sql:4:1: ERROR: table "no_such_table" does not exist (SQLSTATE 42P01)'
	assert_eq t "$(table_exists "$PGB_DB" re1)" "table"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

test_workflows_baseline_adopts_an_existing_schema() {
	app_role
	pgb_run create
	q "$PGB_DB" 'CREATE TABLE legacy (id int)' >/dev/null
	migdir migrations \
		0001_legacy.sql 'CREATE TABLE legacy (id int);' \
		0002_more.sql 'CREATE TABLE bl_more (id int);'
	pgb_run baseline 1
	assert_exit 0
	assert_contains "$PGB_ERR" 'recorded 0001_legacy.sql as applied (baseline: not run)'
	assert_eq "1|0001_legacy.sql|$(sha migrations/0001_legacy.sql)" "$(history "$PGB_DB")" "history"
	pgb_run migrate
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" bl_more)" "table of the migration after the baseline"
	pgb_run baseline 0
	assert_exit 64
	assert_contains "$PGB_ERR" 'no migration has a version up to 0'
}

test_workflows_baseline_beyond_the_newest_file_is_refused() {
	app_role
	pgb_run create
	migdir migrations 0001_a.sql 'CREATE TABLE bb1 (id int);' 0002_b.sql 'CREATE TABLE bb2 (id int);'
	pgb_run baseline 5
	assert_exit 64
	assert_contains "$PGB_ERR" 'version 5 is beyond the newest migration file, "0002_b.sql" (version 2): nothing was recorded'
	assert_eq "" "$(history "$PGB_DB")" "history"
	pgb_run baseline 2
	assert_exit 0
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

test_workflows_repair_rerecords_edited_checksums() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE rp1 (id int);'
	pgb_run migrate
	printf '%s\n' '-- a comment added later' 'CREATE TABLE rp1 (id int);' >migrations/0001_a.sql
	pgb_run migrate
	assert_exit 65
	pgb_run repair
	assert_exit 0
	assert_contains "$PGB_ERR" 'warning: re-recorded the checksum of 0001_a.sql, edited after it was applied'
	assert_eq "1|0001_a.sql|$(sha migrations/0001_a.sql)" "$(history "$PGB_DB")" "history"
	pgb_run migrate
	assert_exit 0
	pgb_run repair
	assert_contains "$PGB_ERR" 'nothing to repair'
}
