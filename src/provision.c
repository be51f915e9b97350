#include "provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "create.h"
#include "db.h"
#include "log.h"

/* The advisory lock key on the maintenance database: "pgbprov" in ASCII. */
#define PROVISION_LOCK_KEY "31638869882597238"

struct prov {
	const struct config *cfg;
	bool dry_run;
	int64_t deadline;
	PGconn *conn;          /* the admin's connection to the maintenance database */
	PGconn *target;        /* the admin's connection to the target, once it exists */
	const char *role;      /* the application's role */
	const char *owner;     /* the owner of a created database: create.owner, else role */
	const char *readonly;  /* provision.readonly_role, or NULL */
	const char *dbname;
	bool super, createrole, createdb;
	char admin[128];
	bool role_missing, ro_missing, db_missing, member; /* before anything is made */
	int printed;           /* statements a dry run printed */
	struct buf changes;    /* "created role \"app\", ..." */
};

/* Notes "what \"name\"" for the summary line. */
static void prov_changed(struct prov *pr, const char *what, const char *name)
{
	buf_printf(&pr->changes, "%s%s \"%s\"", pr->changes.len ? ", " : "", what, name);
}

/*
 * One statement: printed with --dry-run, else run. Another session having made the object
 * first (42710, 42P04, 42P06, 23505) is success and sets *raced. shown is what may be
 * printed (NULL: sql itself); sql may hold a password verifier and is never printed.
 */
static enum status prov_exec(struct prov *pr, PGconn *conn, const char *sql, const char *shown,
			     const char *what, bool *raced)
{
	struct db_error err;

	if (pr->dry_run) {
		printf("%s;\n", shown ? shown : sql);
		pr->printed++;
		return ST_OK;
	}
	log_debug("running: %s", shown ? shown : sql);
	if (db_exec(conn, sql, 0, NULL, &err) == 0)
		return ST_OK;
	if (db_is(&err, SQLSTATE_DUPLICATE_OBJECT) || db_is(&err, SQLSTATE_DUPLICATE_DATABASE) ||
	    db_is(&err, SQLSTATE_DUPLICATE_SCHEMA) || db_is(&err, SQLSTATE_UNIQUE_VIOLATION)) {
		if (raced)
			*raced = true;
		return ST_OK;
	}
	return db_report(&err, what);
}

/* One row of a query with text parameters; NULL (logged) on failure, else the caller clears. */
static PGresult *prov_query(PGconn *conn, const char *sql, int n, const char *const *params,
			    enum status *st)
{
	struct db_error err;
	PGresult *res = db_query(conn, sql, n, params, &err);

	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	PQclear(res);
	*st = db_report(&err, "read the catalog as the admin");
	return NULL;
}

/* What the admin role may do. */
static enum status prov_admin(struct prov *pr)
{
	static const char sql[] = "SELECT rolsuper, rolcreaterole, rolcreatedb, current_user "
				  "FROM pg_catalog.pg_roles WHERE rolname = current_user";
	enum status st = ST_OK;
	PGresult *res = prov_query(pr->conn, sql, 0, (const char *const[]){ NULL }, &st);

	if (!res)
		return st;
	pr->super = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	pr->createrole = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	pr->createdb = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	snprintf(pr->admin, sizeof(pr->admin), "%s", PQgetvalue(res, 0, 3));
	PQclear(res);
	return ST_OK;
}

/*
 * Serializes runners: a half-made state (a role without its grants) is never seen by
 * another. Session-level, on the maintenance connection, released when it closes.
 */
static enum status prov_lock(struct prov *pr)
{
	int64_t left = pr->deadline - clock_ms();
	char *sql = xasprintf("SET lock_timeout = %lld; SELECT pg_catalog.pg_advisory_lock(%s)",
			      (long long)(left > 1000 ? left : 1000), PROVISION_LOCK_KEY);
	struct db_error err;
	enum status st = ST_OK;

	if (db_exec(pr->conn, sql, 0, NULL, &err) < 0) {
		if (db_is(&err, SQLSTATE_LOCK_NOT_AVAILABLE)) {
			log_error("could not take the provisioning lock: another runner held it until "
				  "\"wait.timeout\"");
			st = ST_UNAVAILABLE;
		} else {
			st = db_report(&err, "take the provisioning lock");
		}
	}
	free(sql);
	return st;
}

/* Refuses what the admin role may not do, naming the privilege it lacks. */
static enum status prov_need(const struct prov *pr, bool has, const char *privilege,
			     const char *what, const char *name)
{
	if (has || pr->super)
		return ST_OK;
	log_error("admin role \"%s\" may not create %s \"%s\": it needs %s (or superuser)",
		  pr->admin, what, name, privilege);
	return ST_PERMISSION;
}

/* The attributes in CREATE ROLE's words, in the order prov_role's query reads them. */
static const char *const role_attributes[] = { "SUPERUSER", "CREATEDB", "CREATEROLE",
					       "REPLICATION", "BYPASSRLS", "INHERIT" };

/* 1 or 0 when provision.role_attributes names attribute i (perhaps with NO), else -1. */
static int attribute_wanted(const char *attrs, size_t i)
{
	int wanted = -1;

	for (const char *p = attrs; *p;) {
		size_t n = strcspn(p, " ");
		bool no = n > 2 && strncasecmp(p, "NO", 2) == 0;
		const char *w = no ? p + 2 : p;
		size_t len = no ? n - 2 : n;

		if (len == strlen(role_attributes[i]) &&
		    strncasecmp(w, role_attributes[i], len) == 0)
			wanted = !no;
		p += n + (p[n] == ' ');
	}
	return wanted;
}

/* An existing role: each difference from the settings is a warning; nothing changes. */
static void prov_compare(const char *name, const char *attrs, PGresult *res)
{
	for (size_t i = 0; i < ARRAY_SIZE(role_attributes); i++) {
		int wanted = attribute_wanted(attrs, i);
		bool has = strcmp(PQgetvalue(res, 0, (int)i), "t") == 0;

		if (wanted >= 0 && wanted != has)
			log_warn("role \"%s\" exists with %s%s, not as \"provision.role_attributes\" "
				 "says: left unchanged", name, has ? "" : "NO", role_attributes[i]);
	}
	if (strcmp(PQgetvalue(res, 0, (int)ARRAY_SIZE(role_attributes)), "t") != 0)
		log_warn("role \"%s\" exists without LOGIN: left unchanged", name);
}

/*
 * "CREATE ROLE name LOGIN attrs PASSWORD 'verifier'" or "ALTER ROLE name PASSWORD ...":
 * the password sent as a SCRAM verifier computed here, so no server log can hold it. In
 * *shown, the same with '********'. NULL (logged) when the verifier cannot be computed.
 */
static char *role_statement(struct prov *pr, bool create, const char *name,
			    const char *password, char **shown)
{
	const char *attrs = cfg_get(pr->cfg, CFG_PROVISION_ROLE_ATTRIBUTES);
	char *q = db_quote_ident(pr->conn, name), *verifier = NULL, *lit = NULL, *sql;
	char *head = create ? xasprintf("CREATE ROLE %s LOGIN %s", q, attrs)
			    : xasprintf("ALTER ROLE %s", q);

	if (password && !pr->dry_run) {
		verifier = PQencryptPasswordConn(pr->conn, password, name, "scram-sha-256");
		lit = verifier ? PQescapeLiteral(pr->conn, verifier, strlen(verifier)) : NULL;
		if (!lit)
			log_error("could not compute the password verifier of role \"%s\": %s", name,
				  PQerrorMessage(pr->conn));
	}
	*shown = xasprintf("%s%s", head, password ? " PASSWORD '********'" : "");
	sql = password && !pr->dry_run ? (lit ? xasprintf("%s PASSWORD %s", head, lit) : NULL)
				       : xstrdup(*shown);
	if (!sql) {
		free(*shown);
		*shown = NULL;
	}
	PQfreemem(lit);
	PQfreemem(verifier);
	free(head);
	free(q);
	return sql;
}

/*
 * Creates name when missing (unless make is false: provision.role = none, where a missing
 * role is a configuration error); an existing one keeps everything but, when asked, its
 * password.
 */
static enum status prov_role(struct prov *pr, const char *name, const char *password,
			     bool make, bool *missing)
{
	static const char sql[] = "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
				  "rolbypassrls, rolinherit, rolcanlogin FROM pg_catalog.pg_roles "
				  "WHERE rolname = $1";
	bool update = strcmp(cfg_get(pr->cfg, CFG_PROVISION_PASSWORD_UPDATE), "always") == 0;
	enum status st = ST_OK;
	PGresult *res = prov_query(pr->conn, sql, 1, (const char *const[]){ name }, &st);
	char *stmt = NULL, *shown = NULL;
	bool raced = false;

	if (!res)
		return st;
	*missing = PQntuples(res) == 0;
	if (!*missing && make)
		prov_compare(name, cfg_get(pr->cfg, CFG_PROVISION_ROLE_ATTRIBUTES), res);
	PQclear(res);
	if (*missing && !make) {
		log_error("role \"%s\" does not exist and \"provision.role\" is none: create it, or "
			  "set \"provision.role\" to auto", name);
		return ST_CONFIG;
	}
	if (!make || (!*missing && !(update && password)))
		return ST_OK;
	if (!(stmt = role_statement(pr, *missing, name, password, &shown)))
		return ST_INTERNAL;
	st = prov_exec(pr, pr->conn, stmt, shown, *missing ? "create the role" : "set the password",
		       &raced);
	if (st == ST_OK && !raced)
		prov_changed(pr, *missing ? "created role" : "set the password of role",
			     name);
	free(stmt);
	free(shown);
	return st;
}

/*
 * PostgreSQL 15 lets a role that is not a superuser create a database owned by another
 * role, create a schema in its name or set its default privileges only as its member: a
 * CREATEROLE admin grants itself that membership.
 */
static enum status prov_member(struct prov *pr, const char *name, bool missing)
{
	static const char sql[] = "SELECT pg_catalog.pg_has_role(current_user, $1, 'MEMBER')";
	enum status st = ST_OK;
	PGresult *res = NULL;
	char *q, *q_admin, *grant;
	bool member = false;

	if (pr->super)
		return ST_OK;
	if (!missing && !(res = prov_query(pr->conn, sql, 1, (const char *const[]){ name }, &st)))
		return st;
	member = res && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (member)
		return ST_OK;
	q = db_quote_ident(pr->conn, name);
	q_admin = db_quote_ident(pr->conn, pr->admin);
	grant = xasprintf("GRANT %s TO %s", q, q_admin);
	st = prov_exec(pr, pr->conn, grant, NULL, "make the admin a member of the role", NULL);
	if (st == ST_OK)
		prov_changed(pr, "made the admin a member of role", name);
	free(grant);
	free(q_admin);
	free(q);
	return st;
}

static enum status prov_database(struct prov *pr)
{
	enum status st;
	char *stmt;

	if (!pr->db_missing)
		return ST_OK;
	if (pr->dry_run) {
		stmt = create_statement(pr->conn, pr->cfg, pr->dbname, pr->owner);
		printf("%s;\n", stmt);
		pr->printed++;
		free(stmt);
		return ST_OK;
	}
	st = create_on(pr->conn, pr->cfg, pr->dbname, pr->owner, pr->deadline);
	if (st == ST_OK)
		prov_changed(pr, "created database", pr->dbname);
	return st;
}

/*
 * Each name of a list setting that exists_sql does not find gets "make NAME suffix"; changed
 * is the summary's word for it.
 */
static enum status prov_each(struct prov *pr, enum cfg_key key, const char *exists_sql,
			     const char *make, const char *suffix, const char *changed)
{
	const char *p = cfg_get(pr->cfg, key), *w;
	enum status st = ST_OK;
	size_t len;

	while (st == ST_OK && p && list_next(&p, &w, &len)) {
		char *name = xstrndup(w, len), *q, *sql;
		PGresult *res = NULL;
		bool raced = false;

		if (pr->target && !(res = prov_query(pr->target, exists_sql, 1,
						     (const char *const[]){ name }, &st))) {
			free(name);
			break;
		}
		if (!res || PQntuples(res) == 0) {
			q = db_quote_ident(pr->conn, name);
			sql = xasprintf("%s %s%s", make, q, suffix);
			st = prov_exec(pr, pr->target, sql, NULL, "provision the database", &raced);
			if (st == ST_OK && !raced)
				prov_changed(pr, changed, name);
			free(sql);
			free(q);
		}
		PQclear(res);
		free(name);
	}
	return st;
}

/* True when readonly already has everything on schema (a role missing has nothing). */
static bool readonly_complete(struct prov *pr, const char *schema, enum status *st)
{
	static const char sql[] =
		"SELECT has_database_privilege(r.oid, current_database(), 'CONNECT') AND "
		"has_schema_privilege(r.oid, n.oid, 'USAGE') AND NOT EXISTS (SELECT FROM pg_class c "
		"WHERE c.relnamespace = n.oid AND ((c.relkind IN ('r','p','v','m','f') AND NOT "
		"has_table_privilege(r.oid, c.oid, 'SELECT')) OR (c.relkind = 'S' AND NOT "
		"has_sequence_privilege(r.oid, c.oid, 'SELECT')))) AND (SELECT count(DISTINCT "
		"d.defaclobjtype) FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE "
		"d.defaclrole = o.oid AND d.defaclnamespace = n.oid AND d.defaclobjtype IN ('r','S') "
		"AND a.grantee = r.oid AND a.privilege_type = 'SELECT') = 2 "
		"FROM pg_roles r, pg_roles o, pg_namespace n "
		"WHERE r.rolname = $1 AND o.rolname = $2 AND n.nspname = $3";
	const char *params[] = { pr->readonly, pr->role, schema };
	PGresult *res;
	bool complete;

	if (!pr->target)
		return false;
	if (!(res = prov_query(pr->target, sql, 3, params, st)))
		return false;
	complete = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return complete;
}

/* Read access for provision.readonly_role on one schema, now and for later tables. */
static enum status prov_grant_schema(struct prov *pr, const char *schema)
{
	char *qs = db_quote_ident(pr->conn, schema), *qr = db_quote_ident(pr->conn, pr->readonly);
	char *qo = db_quote_ident(pr->conn, pr->role);
	char *grants[] = {
		xasprintf("GRANT USAGE ON SCHEMA %s TO %s", qs, qr),
		xasprintf("GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s", qs, qr),
		xasprintf("GRANT SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s", qs, qr),
		xasprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT ON TABLES "
			  "TO %s", qo, qs, qr),
		xasprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT ON "
			  "SEQUENCES TO %s", qo, qs, qr),
	};
	enum status st = ST_OK;

	for (size_t i = 0; i < ARRAY_SIZE(grants); i++) {
		if (st == ST_OK)
			st = prov_exec(pr, pr->target, grants[i], NULL, "grant read access", NULL);
		free(grants[i]);
	}
	free(qo);
	free(qr);
	free(qs);
	return st;
}

/* One schema's read access, unless complete; CONNECT before the first one granted. */
static enum status prov_readonly_schema(struct prov *pr, const char *schema, bool *granted)
{
	enum status st = ST_OK;

	if (readonly_complete(pr, schema, &st) || st != ST_OK)
		return st;
	if (!*granted) {
		char *qd = db_quote_ident(pr->conn, pr->dbname);
		char *qr = db_quote_ident(pr->conn, pr->readonly);
		char *sql = xasprintf("GRANT CONNECT ON DATABASE %s TO %s", qd, qr);

		st = prov_exec(pr, pr->target, sql, NULL, "grant read access", NULL);
		free(sql);
		free(qr);
		free(qd);
		*granted = true;
	}
	return st == ST_OK ? prov_grant_schema(pr, schema) : st;
}

/* public, then each of provision.schemas. */
static enum status prov_readonly(struct prov *pr)
{
	const char *p = cfg_get(pr->cfg, CFG_PROVISION_SCHEMAS), *w;
	bool granted = false;
	enum status st = prov_readonly_schema(pr, "public", &granted);
	size_t len;

	while (st == ST_OK && p && list_next(&p, &w, &len)) {
		char *schema = xstrndup(w, len);

		st = prov_readonly_schema(pr, schema, &granted);
		free(schema);
	}
	if (st == ST_OK && granted)
		prov_changed(pr, "granted read access to role", pr->readonly);
	return st;
}

/* In the target database: extensions (as the admin), schemas (the role's), grants. */
static enum status prov_target(struct prov *pr)
{
	struct db_error err;
	enum status st;
	char *q;

	if (!pr->db_missing || !pr->dry_run) {
		pr->target = db_connect_retry_as(pr->cfg, &pr->cfg->admin, pr->dbname, pr->deadline, &err);
		if (!pr->target) {
			log_error("could not connect to database \"%s\" as the admin: %s", pr->dbname,
				  err.message);
			return db_status(&err, ST_UNAVAILABLE);
		}
	}
	st = prov_each(pr, CFG_PROVISION_EXTENSIONS,
		       "SELECT FROM pg_catalog.pg_extension WHERE extname = $1",
		       "CREATE EXTENSION IF NOT EXISTS", "", "created extension");
	if (st != ST_OK)
		return st;
	q = db_quote_ident(pr->conn, pr->role);
	{
		char *suffix = xasprintf(" AUTHORIZATION %s", q);

		st = prov_each(pr, CFG_PROVISION_SCHEMAS,
			       "SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1",
			       "CREATE SCHEMA IF NOT EXISTS", suffix, "created schema");
		free(suffix);
	}
	free(q);
	if (st == ST_OK && pr->readonly)
		st = prov_readonly(pr);
	return st;
}

/* What is missing, read once under the lock, so privileges are checked before any change. */
static enum status prov_survey(struct prov *pr)
{
	static const char sql[] =
		"SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1), "
		"EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $2), "
		"EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $3), "
		"COALESCE((SELECT pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') "
		"FROM pg_catalog.pg_roles r WHERE r.rolname = $1), false)";
	const char *params[] = { pr->role, pr->readonly ? pr->readonly : "", pr->dbname };
	enum status st = ST_OK;
	PGresult *res = prov_query(pr->conn, sql, 3, params, &st);

	if (!res)
		return st;
	pr->role_missing = strcmp(PQgetvalue(res, 0, 0), "f") == 0;
	pr->ro_missing = pr->readonly && strcmp(PQgetvalue(res, 0, 1), "f") == 0;
	pr->db_missing = strcmp(PQgetvalue(res, 0, 2), "f") == 0;
	pr->member = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	return ST_OK;
}

/* Everything the admin will need, checked before anything is made: nothing half-done. */
static enum status prov_preflight(const struct prov *pr, bool auto_role)
{
	enum status st = ST_OK;

	if (auto_role && pr->role_missing)
		st = prov_need(pr, pr->createrole, "CREATEROLE", "role", pr->role);
	if (st == ST_OK && pr->ro_missing)
		st = prov_need(pr, pr->createrole, "CREATEROLE", "role", pr->readonly);
	if (st == ST_OK && pr->db_missing)
		st = prov_need(pr, pr->createdb, "CREATEDB", "database", pr->dbname);
	if (st == ST_OK && !pr->super && !pr->member && !pr->createrole && !pr->role_missing) {
		log_error("admin role \"%s\" may not make itself a member of role \"%s\", which "
			  "PostgreSQL 15 requires to act for it: it needs CREATEROLE (or superuser)",
			  pr->admin, pr->role);
		st = ST_PERMISSION;
	}
	return st;
}

/* Roles and membership on the maintenance connection, then the database, then inside it. */
static enum status prov_steps(struct prov *pr)
{
	const struct config *cfg = pr->cfg;
	bool auto_role = strcmp(cfg_get(cfg, CFG_PROVISION_ROLE), "auto") == 0, ro_missing = false;
	enum status st = prov_admin(pr);

	if (st == ST_OK && !pr->dry_run)
		st = prov_lock(pr);
	if (st == ST_OK)
		st = prov_survey(pr);
	if (st == ST_OK)
		st = prov_preflight(pr, auto_role);
	if (st == ST_OK)
		st = prov_role(pr, pr->role, cfg->app_password, auto_role, &pr->role_missing);
	if (st == ST_OK && pr->readonly)
		st = prov_role(pr, pr->readonly, cfg_get(cfg, CFG_PROVISION_READONLY_PASSWORD), true,
			       &ro_missing);
	if (st == ST_OK)
		st = prov_member(pr, pr->role, pr->role_missing);
	if (st == ST_OK && strcmp(pr->owner, pr->role) != 0)
		st = prov_member(pr, pr->owner, false);
	if (st == ST_OK)
		st = prov_database(pr);
	if (st == ST_OK)
		st = prov_target(pr);
	return st;
}

enum status provision_run(const struct config *cfg, bool dry_run, int64_t deadline,
			  bool *incomplete)
{
	struct prov pr = { .cfg = cfg, .dry_run = dry_run, .deadline = deadline };
	enum status st = ST_OK;

	pr.role = cfg->app_user;
	pr.dbname = cfg->app_dbname;
	pr.owner = cfg_get(cfg, CFG_CREATE_OWNER) ? cfg_get(cfg, CFG_CREATE_OWNER) : pr.role;
	pr.readonly = cfg_get(cfg, CFG_PROVISION_READONLY_ROLE);
	if (!pr.role) {
		log_error("cannot provision without the application's role: set \"database.user\"");
		return ST_CONFIG;
	}
	buf_init(&pr.changes);
	pr.conn = db_connect_maintenance_as(cfg, &cfg->admin, deadline, &st);
	if (pr.conn)
		st = prov_steps(&pr);
	if (st == ST_OK && dry_run)
		log_info(pr.printed ? "dry run: the SQL above was not run"
				    : "dry run: provisioned already, nothing would change");
	else if (st == ST_OK && pr.changes.len)
		log_info("provisioned database \"%s\": %s", pr.dbname, pr.changes.data);
	else if (st == ST_OK)
		log_info("provisioned already: roles, database \"%s\", extensions, schemas and "
			 "grants are in place; nothing changed", pr.dbname);
	*incomplete = pr.role_missing || pr.db_missing;
	PQfinish(pr.target);
	PQfinish(pr.conn);
	buf_release(&pr.changes);
	return st;
}
