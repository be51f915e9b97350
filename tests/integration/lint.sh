# shellcheck shell=bash
# lint: `pgboot lint`, and the lint of pending files that run and migrate make before
# applying (migrate.lint): refusals in protected environments with nothing applied, allow
# comments, warn mode, JSON for CI, and no finding on pgboot's own migrations and examples.

# The production settings against the test server: protected, but without TLS.
_prod() {
	PGBOOT_ENVIRONMENT=production PGBOOT_DATABASE_SSLMODE=disable pgb_run "$@"
}

# A database with table "accounts" holding two rows, applied as 0001 outside production.
_applied_accounts() {
	app_role
	migdir migrations 0001_accounts.sql \
		$'CREATE TABLE accounts (id int PRIMARY KEY, email text);\nINSERT INTO accounts VALUES (1, \'a@x\'), (2, \'b@x\');'
	pgb_run migrate
	assert_exit 0
}

_accounts_intact() {
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM accounts')" "rows in accounts"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

test_lint_protected_refuses_drop_table_with_nothing_applied() {
	_applied_accounts
	printf '%s\n' 'CREATE TABLE harmless (id int);' >migrations/0002_harmless.sql
	printf '%s\n' '-- clean up' 'DROP TABLE accounts;' >migrations/0003_drop.sql
	_prod migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'error: migrations/0003_drop.sql:2:12: drop-table: dropping table "accounts" deletes its data'
	assert_contains "$PGB_ERR" 'hint: save the data first'
	assert_not_contains "$PGB_ERR" 'applying'
	_accounts_intact
	assert_eq f "$(table_exists "$PGB_DB" harmless)" "table of the file before the refused one"
	# plan makes the checks a run makes: it says the run would stop
	_prod plan
	assert_exit 65
	assert_contains "$PGB_ERR" 'error: migrations/0003_drop.sql:2:12: drop-table:'
	assert_not_contains "$PGB_ERR" 'would be applied'
	pgb_run migrate --dry-run
	assert_exit 0
	assert_contains "$PGB_ERR" 'warning: migrations/0003_drop.sql:2:12: drop-table:'
	assert_contains "$PGB_ERR" 'dry run: 2 migrations would be applied'
	_accounts_intact
}

test_lint_protected_refuses_create_index_on_an_existing_table() {
	_applied_accounts
	printf '%s\n' 'CREATE INDEX accounts_email ON accounts (email);' >migrations/0002_index.sql
	_prod run -- sh -c 'echo APP-RAN'
	assert_exit 65
	assert_contains "$PGB_ERR" 'error: migrations/0002_index.sql:1:1: create-index: creating an index on "accounts" without CONCURRENTLY'
	assert_contains "$PGB_ERR" 'hint: CREATE INDEX CONCURRENTLY in a file whose first line is "-- pgboot:no-transaction"'
	assert_not_contains "$PGB_OUT" 'APP-RAN'
	_accounts_intact
	assert_eq "" "$(q "$PGB_DB" "SELECT indexname FROM pg_indexes WHERE indexname = 'accounts_email'")" "index"
	# what the hint says to write passes, and applies
	printf '%s\n' '-- pgboot:no-transaction' 'CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);' \
		>migrations/0002_index.sql
	_prod migrate
	assert_exit 0
	assert_eq accounts_email "$(q "$PGB_DB" "SELECT indexname FROM pg_indexes WHERE indexname = 'accounts_email'")" "index"
}

test_lint_allow_comment_applies_and_logs_the_allowance() {
	_applied_accounts
	# above a statement that is not the first: not a directive out of place
	printf '%s\n' 'CREATE TABLE unrelated (id int);' '-- pgboot:allow drop-column' \
		'-- exported to the archive first (OPS-1)' 'ALTER TABLE accounts DROP COLUMN email;' \
		>migrations/0002_drop_email.sql
	_prod migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'info: migrations/0002_drop_email.sql:4:22: drop-column: dropping column "email" of "accounts" deletes its data (allowed by "-- pgboot:allow" on line 2)'
	# the same statement's compatibility finding is not allowed: a warning, which does not stop
	assert_contains "$PGB_ERR" 'warning: migrations/0002_drop_email.sql:4:22: drop-column-in-use:'
	assert_contains "$PGB_ERR" 'applied 0002_drop_email.sql'
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM accounts')" "rows in accounts"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'email'")" "column email"
}

test_lint_allow_comment_for_the_whole_file_by_category() {
	_applied_accounts
	printf '%s\n' '-- pgboot:allow destructive, locking' '' 'CREATE INDEX ON accounts (email);' \
		'TRUNCATE accounts;' >migrations/0002_reset.sql
	_prod migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'info: migrations/0002_reset.sql:3:1: create-index:'
	assert_contains "$PGB_ERR" 'info: migrations/0002_reset.sql:4:10: truncate:'
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM accounts')" "rows in accounts"
}

test_lint_allow_comment_typo_stops_every_mode_but_off() {
	_applied_accounts
	printf '%s\n' 'SELECT 1;' '-- pgboot:allow drop-tabel' 'DROP TABLE accounts;' >migrations/0002_drop.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'error: migrations/0002_drop.sql:2:17: allow-comment: unknown rule "drop-tabel" in "-- pgboot:allow"'
	_accounts_intact
	pgb_run migrate --migrate-lint off
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" accounts)" "table accounts"
}

test_lint_warn_mode_applies_with_a_warning() {
	_applied_accounts
	printf '%s\n' 'CREATE INDEX accounts_email ON accounts (email);' >migrations/0002_index.sql
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'warning: migrations/0002_index.sql:1:1: create-index: creating an index on "accounts"'
	assert_contains "$PGB_ERR" 'applied 0002_index.sql'
	# a start with nothing pending reads no file: no warning again
	pgb_run migrate
	assert_exit 0
	assert_not_contains "$PGB_ERR" 'create-index'
	assert_contains "$PGB_ERR" 'no pending migrations'
	# neither does production, where the file would be refused had it been pending
	_prod migrate
	assert_exit 0
	assert_not_contains "$PGB_ERR" 'create-index'
}

test_lint_off_in_production_applies() {
	_applied_accounts
	printf '%s\n' 'DROP TABLE accounts;' >migrations/0002_drop.sql
	PGBOOT_MIGRATE_LINT=off _prod migrate
	assert_exit 0
	assert_not_contains "$PGB_ERR" 'drop-table'
	assert_eq f "$(table_exists "$PGB_DB" accounts)" "table accounts"
}

test_lint_new_table_in_the_pending_set_passes() {
	_applied_accounts
	printf '%s\n' 'CREATE TABLE posts (id int, account_id int, title text);' >migrations/0002_posts.sql
	printf '%s\n' 'CREATE INDEX posts_account ON posts (account_id);' \
		'ALTER TABLE posts ADD FOREIGN KEY (account_id) REFERENCES accounts (id), ALTER title SET NOT NULL;' \
		>migrations/0003_posts_index.sql
	_prod lint
	assert_exit 0
	assert_eq "" "$(cat "$PGB_OUT")" "findings"
	_prod migrate
	assert_exit 0
	assert_not_contains "$PGB_ERR" 'warning'
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
	# once applied, posts is no longer new: the same index on it is a finding
	printf '%s\n' 'CREATE INDEX posts_title ON posts (title);' >migrations/0004_title.sql
	_prod lint
	assert_exit 1
	assert_eq 'migrations/0004_title.sql:1:1: error: create-index: creating an index on "posts" without CONCURRENTLY blocks writes to the table while it builds' \
		"$(head -1 "$PGB_OUT")" "finding"
}

test_lint_command_pending_files_and_exit_codes() {
	_applied_accounts
	printf '%s\n' 'ALTER TABLE accounts RENAME TO users;' >migrations/0002_rename.sql
	# lint reads the database for what is pending; compatibility findings never fail
	_prod lint
	assert_exit 0
	assert_eq 'migrations/0002_rename.sql:1:22: warning: rename-table: renaming table "accounts" breaks the previous application version while this one rolls out' \
		"$(head -1 "$PGB_OUT")" "finding"
	assert_match "$PGB_OUT" '^  hint: create the new table or a view beside the old name'
	printf '%s\n' 'DELETE FROM accounts;' >migrations/0003_delete.sql
	pgb_run lint
	assert_exit 0
	assert_contains "$PGB_OUT" 'migrations/0003_delete.sql:1:1: warning: delete-without-where:'
	pgb_run lint --migrate-lint error
	assert_exit 1
	assert_contains "$PGB_OUT" 'migrations/0003_delete.sql:1:1: error: delete-without-where:'
	# linting changes nothing
	_accounts_intact
	assert_eq f "$(table_exists "$PGB_DB" users)" "table users"
}

test_lint_command_missing_database_has_everything_pending() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE a (id int);' 0002_b.sql 'CREATE INDEX ON a (id); DROP TABLE old;'
	_prod lint
	assert_exit 1
	assert_eq 'migrations/0002_b.sql:1:36: error: drop-table: dropping table "old" deletes its data' \
		"$(grep -v '^  ' "$PGB_OUT")" "findings"
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created by lint"
}

test_lint_command_files_and_all_need_no_database() {
	clear_conn
	# nothing listens there: FILE arguments and --all never connect
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=1 PGBOOT_WAIT_TIMEOUT=1s
	migdir migrations 0001_a.sql 'CREATE TABLE a (id int);' 0002_b.sql 'CREATE INDEX ON a (id);'
	printf '%s\n' 'VACUUM FULL a;' >"$PGB_WORK/extra.sql"
	pgb_run lint --all --migrate-lint error
	assert_exit 0
	assert_eq "" "$(cat "$PGB_OUT")" "findings of --all (a is new in the set)"
	pgb_run lint --migrate-lint error migrations/0002_b.sql "$PGB_WORK/extra.sql"
	assert_exit 1
	assert_eq "migrations/0002_b.sql:1:1: error: create-index|$PGB_WORK/extra.sql:1:1: error: vacuum-full" \
		"$(grep -v '^  ' "$PGB_OUT" | cut -d: -f1-5 | paste -sd '|')" "findings of named files"
	# named files form one set, in the order given
	pgb_run lint --migrate-lint error migrations/0001_a.sql migrations/0002_b.sql
	assert_exit 0
	pgb_run lint migrations/0009_missing.sql
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0009_missing.sql'
	printf '%s\n' 'SELECT 1;' '\i other.sql' >"$PGB_WORK/meta.sql"
	pgb_run lint "$PGB_WORK/meta.sql"
	assert_exit 65
	assert_contains "$PGB_ERR" "$PGB_WORK/meta.sql:2: psql meta-command \"\\i\" is not supported"
	pgb_run lint --all --migrate-lint sometimes
	assert_exit 78
	pgb_run lint --all migrations/0001_a.sql
	assert_exit 64
}

test_lint_json_for_ci() {
	clear_conn
	migdir migrations 0001_a.sql $'-- pgboot:allow truncate\nTRUNCATE a;\nALTER TABLE a\n  ALTER COLUMN n SET NOT NULL;'
	pgb_run lint --all --json --migrate-lint error
	assert_exit 1
	python3 - "$PGB_OUT" <<'EOF' || fail "unexpected JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["files"] == 1 and doc["errors"] == 1 and doc["warnings"] == 0 and doc["allowed"] == 1, doc
allowed, err = doc["findings"]
assert allowed["rule"] == "truncate" and allowed["severity"] == "info" and allowed["allowed"] is True, allowed
assert allowed["allowed_by"] == 1 and (allowed["line"], allowed["column"]) == (2, 10), allowed
assert err == {
    "file": "migrations/0001_a.sql", "line": 4, "column": 3, "severity": "error",
    "rule": "set-not-null", "category": "locking",
    "message": 'SET NOT NULL on column "n" of "a" blocks reads and writes while every row is checked',
    "hint": err["hint"], "allowed": False,
}, err
assert "VALIDATE CONSTRAINT" in err["hint"], err
EOF
	assert_eq 1 "$(wc -l <"$PGB_OUT")" "lines of JSON"
}

test_lint_no_finding_on_pgboots_own_migrations_and_examples() {
	clear_conn
	local dir
	for dir in "$PGB_TOP/migrations" "$PGB_TOP/k8s/base/migrations"; do
		pgb_run lint --all --migrate-lint error --migrate-dir "$dir"
		assert_exit 0
		assert_eq "" "$(cat "$PGB_OUT")" "findings in $dir"
	done
	# every file of the corpus of odd migrations, each alone: no finding; those that are no
	# valid SQL file (a NUL byte, a meta-command...) are refused as run and migrate refuse them
	local f n=0
	while IFS= read -r f; do
		pgb_run lint --migrate-lint error "$f"
		[[ $PGB_RC == 0 || $PGB_RC == 65 ]] || fail "lint of $f exited $PGB_RC"
		assert_eq "" "$(cat "$PGB_OUT")" "findings in $f"
		n=$((n + 1))
	done < <(find "$PGB_TESTS_DIR/corpus/migrations" -name '*.sql' | sort)
	((n > 20)) || fail "only $n example files found"
}
