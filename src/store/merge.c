/* Joining stores: visbench merge (the shards of a Slurm job array), and a
 * finished run moved from an MPI worker's scratch store to rank 0's as an
 * SQLite image. Both copy rows table by table with the columns of the
 * schema itself (PRAGMA table_info), so a column added to the schema is
 * carried without a change here. */
#define _GNU_SOURCE
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The tables that hold a run's results, keyed by run_id. */
static const char *const run_tables[] = {"metrics",     "class_metrics",   "confusion", "predictions",
                                         "level_confusion", "clusters", "curves"};
/* What the experiment is, keyed by experiment_id (besides its own row). */
static const char *const exp_tables[] = {"taxonomy", "classes", "folds", "samples"};

/* ---- copying rows ------------------------------------------------------- */

typedef struct cols {
    size_t n;
    char **name;
} cols;

static void cols_free(cols *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->name[i]);
    free(c->name);
    c->n = 0;
    c->name = NULL;
}

/* The columns of a table, as the schema of s has them. */
static vb_status table_columns(vb_store *s, const char *table, cols *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    char *sql = vb_asprintf("PRAGMA table_info(%s)", table);
    if (!sql)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s, sql, &q, err);
    free(sql);
    while (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
        char **grown = realloc(out->name, (out->n + 1) * sizeof *grown);
        char *name = strdup((const char *)sqlite3_column_text(q, 1));
        if (!grown || !name) {
            free(name);
            if (grown)
                out->name = grown;
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        out->name = grown;
        out->name[out->n++] = name;
    }
    sqlite3_finalize(q);
    if (st == VB_OK && out->n == 0)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: no table %s", s->path, table);
    if (st != VB_OK)
        cols_free(out);
    return st;
}

/* Copies the rows of table from src where key = key_val into dst, with
 * column set (if any) given set_val and column skip (an INTEGER PRIMARY
 * KEY the destination numbers itself) left out. *last gets the rowid of
 * the last row written. */
static vb_status copy_rows(vb_store *dst, vb_store *src, const char *table, const char *key, int64_t key_val,
                           const char *set, int64_t set_val, const char *skip, int64_t *last, vb_error *err)
{
    cols c;
    vb_status st = table_columns(dst, table, &c, err);
    if (st != VB_OK)
        return st;
    vb_buf sel, ins;
    vb_buf_init(&sel);
    vb_buf_init(&ins);
    vb_buf_puts(&sel, "SELECT ");
    vb_buf_printf(&ins, "INSERT INTO %s(", table);
    size_t m = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (skip && strcmp(c.name[i], skip) == 0)
            continue;
        vb_buf_printf(&sel, "%s\"%s\"", m ? ", " : "", c.name[i]);
        vb_buf_printf(&ins, "%s\"%s\"", m ? ", " : "", c.name[i]);
        m++;
    }
    vb_buf_printf(&sel, " FROM %s WHERE \"%s\" = ?", table, key);
    vb_buf_puts(&ins, ") VALUES (");
    for (size_t i = 0; i < m; i++)
        vb_buf_puts(&ins, i ? ", ?" : "?");
    vb_buf_puts(&ins, ")");
    sqlite3_stmt *qs = NULL, *qi = NULL;
    if (sel.failed || ins.failed)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = store_prepare(src, sel.data, &qs, err);
    if (st == VB_OK)
        st = store_prepare(dst, ins.data, &qi, err);
    if (st == VB_OK)
        sqlite3_bind_int64(qs, 1, key_val);
    int rc = SQLITE_DONE;
    while (st == VB_OK && (rc = sqlite3_step(qs)) == SQLITE_ROW) {
        sqlite3_reset(qi);
        int j = 0;
        for (size_t i = 0; i < c.n; i++) {
            if (skip && strcmp(c.name[i], skip) == 0)
                continue;
            if (set && strcmp(c.name[i], set) == 0)
                sqlite3_bind_int64(qi, j + 1, set_val);
            else
                sqlite3_bind_value(qi, j + 1, sqlite3_column_value(qs, j)); /* a copy */
            j++;
        }
        if (sqlite3_step(qi) != SQLITE_DONE)
            st = store_fail(dst, err, "cannot copy a row");
        else if (last)
            *last = sqlite3_last_insert_rowid(dst->db);
    }
    if (st == VB_OK && rc != SQLITE_DONE)
        st = store_fail(src, err, "cannot read");
    sqlite3_finalize(qs);
    sqlite3_finalize(qi);
    vb_buf_free(&sel);
    vb_buf_free(&ins);
    cols_free(&c);
    return st;
}

/* Copies run src_run of src, with all its results, into experiment exp of
 * dst. */
static vb_status copy_run(vb_store *dst, int64_t exp, vb_store *src, int64_t src_run, vb_error *err)
{
    int64_t run = 0;
    vb_status st = copy_rows(dst, src, "runs", "id", src_run, "experiment_id", exp, "id", &run, err);
    for (size_t t = 0; st == VB_OK && t < sizeof run_tables / sizeof run_tables[0]; t++)
        st = copy_rows(dst, src, run_tables[t], "run_id", src_run, "run_id", run, NULL, NULL, err);
    return st;
}

static vb_status delete_run(vb_store *s, int64_t run, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s, "DELETE FROM runs WHERE id = ?", &q, err); /* cascades to the results */
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, run);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot replace a run");
    }
    sqlite3_finalize(q);
    return st;
}

/* ---- what a run's results are ------------------------------------------ */

static uint64_t hash_value(uint64_t h, sqlite3_stmt *q, int i)
{
    unsigned char type = (unsigned char)sqlite3_column_type(q, i);
    h = vb_hash64(&type, 1, h);
    if (type == SQLITE_INTEGER) {
        int64_t v = sqlite3_column_int64(q, i);
        h = vb_hash64(&v, sizeof v, h);
    } else if (type == SQLITE_FLOAT) {
        double v = sqlite3_column_double(q, i);
        h = vb_hash64(&v, sizeof v, h);
    } else if (type != SQLITE_NULL) {
        const void *p = sqlite3_column_blob(q, i);
        uint64_t len = (uint64_t)sqlite3_column_bytes(q, i);
        h = vb_hash64(&len, sizeof len, h);
        h = vb_hash64(p, (size_t)len, h);
    }
    return h;
}

/* A digest of everything a run computed: its configuration, parameters and
 * sizes, and every row of its results, but not when, where or how fast it
 * ran (timings and provenance may differ between two runs of one
 * result). */
static vb_status run_digest(vb_store *s, int64_t run, uint64_t *out, vb_error *err)
{
    static const char *const timing[] = {"seconds"}; /* curves: the epoch's time */
    uint64_t h = 0;
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                                 "SELECT status, config_hash, params, grid, features, dim, probabilities,"
                                 " n_train, n_val, n_test, error FROM runs WHERE id = ?",
                                 &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, run);
        if (sqlite3_step(q) == SQLITE_ROW)
            for (int i = 0; i < sqlite3_column_count(q); i++)
                h = hash_value(h, q, i);
        else
            st = store_fail(s, err, "cannot read a run");
    }
    sqlite3_finalize(q);
    for (size_t t = 0; st == VB_OK && t < sizeof run_tables / sizeof run_tables[0]; t++) {
        cols c;
        st = table_columns(s, run_tables[t], &c, err);
        if (st != VB_OK)
            break;
        vb_buf sql;
        vb_buf_init(&sql);
        vb_buf_puts(&sql, "SELECT ");
        size_t m = 0;
        for (size_t i = 0; i < c.n; i++) {
            if (strcmp(c.name[i], "run_id") == 0 || strcmp(c.name[i], timing[0]) == 0)
                continue;
            vb_buf_printf(&sql, "%s\"%s\"", m++ ? ", " : "", c.name[i]);
        }
        vb_buf_printf(&sql, " FROM %s WHERE run_id = ? ORDER BY", run_tables[t]);
        for (size_t i = 0; i < m; i++)
            vb_buf_printf(&sql, "%s %zu", i ? "," : "", i + 1);
        cols_free(&c);
        q = NULL;
        st = sql.failed ? vb_fail(err, VB_ERR_NOMEM, "out of memory") : store_prepare(s, sql.data, &q, err);
        vb_buf_free(&sql);
        if (st == VB_OK) {
            sqlite3_bind_int64(q, 1, run);
            const unsigned char *name = (const unsigned char *)run_tables[t];
            h = vb_hash64(name, strlen(run_tables[t]), h);
            int rc;
            while ((rc = sqlite3_step(q)) == SQLITE_ROW)
                for (int i = 0; i < sqlite3_column_count(q); i++)
                    h = hash_value(h, q, i);
            if (rc != SQLITE_DONE)
                st = store_fail(s, err, "cannot read a run's results");
        }
        sqlite3_finalize(q);
    }
    *out = h;
    return st;
}

/* ---- experiments --------------------------------------------------------- */

/* (experiments are known by vb_store_list's lines: name, split and spec hash) */
typedef vb_store_exp_info exp_id;

static const exp_id *find_exp(const exp_id *e, size_t n, const char *name, const char *split_hash)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0 && (!split_hash || strcmp(e[i].split_hash, split_hash) == 0))
            return &e[i];
    return NULL;
}

/* Can experiment b (of file B) join experiment list a (of file A)? */
static vb_status exp_agrees(const char *A, const exp_id *a, size_t na, const char *B, const exp_id *b,
                            vb_error *err)
{
    const exp_id *same = find_exp(a, na, b->name, b->split_hash);
    if (same && strcmp(same->spec_hash, b->spec_hash) != 0)
        return vb_fail(err, VB_ERR_DATA,
                       "%s and %s: experiment '%s' comes from another spec in each (spec hash %s and %s): "
                       "merge only the shards of one spec, run with the same spec file",
                       A, B, b->name, same->spec_hash, b->spec_hash);
    const exp_id *other = same ? NULL : find_exp(a, na, b->name, NULL);
    if (other)
        return vb_fail(err, VB_ERR_DATA,
                       "%s and %s: experiment '%s' has another split in each (split hash %s and %s: other data, "
                       "protocol or seed): merge only the shards of one run of the spec on the same data",
                       A, B, b->name, other->split_hash, b->split_hash);
    return VB_OK;
}

vb_status vb_store_merge_check(const char *const *paths, size_t n, vb_error *err)
{
    exp_id *first = NULL;
    size_t n_first = 0;
    vb_status st = VB_OK;
    for (size_t f = 0; st == VB_OK && f < n; f++) {
        vb_store *s = NULL;
        exp_id *e = NULL;
        size_t ne = 0;
        st = vb_store_open(paths[f], 1, &s, err);
        if (st == VB_OK)
            st = vb_store_list(s, &e, &ne, err);
        vb_store_close(s);
        if (st == VB_OK && ne == 0)
            st = vb_fail(err, VB_ERR_DATA, "%s: holds no experiment; name the stores that visbench run wrote",
                         paths[f]);
        for (size_t i = 0; st == VB_OK && f > 0 && i < ne; i++)
            st = exp_agrees(paths[0], first, n_first, paths[f], &e[i], err);
        /* both ways: an experiment of one that the other lacks */
        for (size_t i = 0; st == VB_OK && f > 0 && i < ne; i++)
            if (!find_exp(first, n_first, e[i].name, e[i].split_hash))
                st = vb_fail(err, VB_ERR_DATA,
                             "%s holds experiment '%s', %s does not: the shards of one spec hold the same "
                             "experiments; was one of them run from another spec?",
                             paths[f], e[i].name, paths[0]);
        for (size_t i = 0; st == VB_OK && f > 0 && i < n_first; i++)
            if (!find_exp(e, ne, first[i].name, first[i].split_hash))
                st = vb_fail(err, VB_ERR_DATA,
                             "%s holds experiment '%s', %s does not: the shards of one spec hold the same "
                             "experiments; was one of them run from another spec?",
                             paths[0], first[i].name, paths[f]);
        if (f == 0) {
            first = e;
            n_first = ne;
        } else
            vb_store_list_free(e, ne);
    }
    vb_store_list_free(first, n_first);
    return st;
}

/* ---- merging ------------------------------------------------------------- */

typedef struct run_row {
    int64_t id;
    char *status, *owner;
} run_row;

/* The run (pipeline, fold) of experiment exp in s; id 0 when absent. */
static vb_status find_run(vb_store *s, int64_t exp, const char *pipeline, const char *fold, run_row *out,
                          vb_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(
        s, "SELECT id, status, owner FROM runs WHERE experiment_id = ? AND pipeline = ? AND fold = ?", &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, exp);
        store_bind_text(q, 2, pipeline);
        store_bind_text(q, 3, fold);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            out->id = sqlite3_column_int64(q, 0);
            out->status = strdup((const char *)sqlite3_column_text(q, 1));
            const unsigned char *o = sqlite3_column_text(q, 2);
            out->owner = o ? strdup((const char *)o) : NULL;
            if (!out->status || (o && !out->owner))
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        } else if (rc != SQLITE_DONE)
            st = store_fail(s, err, "cannot read the runs");
    }
    sqlite3_finalize(q);
    return st;
}

static void run_row_free(run_row *r)
{
    free(r->status);
    free(r->owner);
    memset(r, 0, sizeof *r);
}

/* Joins one run of a source into experiment exp of s. */
static vb_status merge_run(vb_store *s, int64_t exp, vb_store *src, int64_t src_run, const char *pipeline,
                           const char *fold, const char *status, vb_merge_report *rep, vb_error *err)
{
    if (strcmp(status, "running") == 0) { /* a claim that never finished there */
        rep->unfinished++;
        return VB_OK;
    }
    run_row have;
    vb_status st = find_run(s, exp, pipeline, fold, &have, err);
    if (st != VB_OK)
        return st;
    if (!have.id) {
        st = copy_run(s, exp, src, src_run, err);
        if (st == VB_OK)
            rep->added++;
    } else if (strcmp(have.status, "running") == 0 && store_owner_alive(have.owner, s->owner)) {
        st = vb_fail(err, VB_ERR_STATE,
                     "%s: run '%s' [%s] is being computed by a live process (%s): merge when it has finished",
                     s->path, pipeline, fold, have.owner);
    } else if (strcmp(have.status, "done") == 0 && strcmp(status, "done") == 0) {
        uint64_t a = 0, b = 0;
        st = run_digest(s, have.id, &a, err);
        if (st == VB_OK)
            st = run_digest(src, src_run, &b, err);
        if (st == VB_OK && a != b)
            st = vb_fail(err, VB_ERR_DATA,
                         "run '%s' [%s]: %s and %s hold different results for it (configuration, metrics or "
                         "predictions differ: another build, data or spec?); merge into a new store, or leave "
                         "one of them out",
                         pipeline, fold, s->path, src->path);
        if (st == VB_OK)
            rep->same++;
    } else if (strcmp(have.status, "done") == 0) { /* the source's failed run; ours is finished */
        rep->kept++;
    } else if (strcmp(have.status, "failed") == 0 && strcmp(status, "failed") == 0) {
        rep->same++;
    } else { /* a finished run replaces a failure or a dead claim; a failure replaces a dead claim */
        st = delete_run(s, have.id, err);
        if (st == VB_OK)
            st = copy_run(s, exp, src, src_run, err);
        if (st == VB_OK)
            rep->replaced++;
    }
    run_row_free(&have);
    return st;
}

/* Joins experiment e of src into s: its identity first (copied whole when s
 * lacks it), then its runs. */
static vb_status merge_exp(vb_store *s, vb_store *src, const exp_id *e, vb_merge_report *rep, vb_error *err)
{
    exp_id *have = NULL;
    size_t n_have = 0;
    vb_status st = vb_store_list(s, &have, &n_have, err);
    if (st == VB_OK)
        st = exp_agrees(s->path, have, n_have, src->path, e, err);
    const exp_id *d = st == VB_OK ? find_exp(have, n_have, e->name, e->split_hash) : NULL;
    int64_t exp = d ? d->id : 0;
    vb_store_list_free(have, n_have);
    if (st == VB_OK && !exp) {
        st = copy_rows(s, src, "experiments", "id", e->id, NULL, 0, "id", &exp, err);
        for (size_t t = 0; st == VB_OK && t < sizeof exp_tables / sizeof exp_tables[0]; t++)
            st = copy_rows(s, src, exp_tables[t], "experiment_id", e->id, "experiment_id", exp, NULL, NULL, err);
        if (st == VB_OK)
            rep->experiments_added++;
    }
    sqlite3_stmt *q = NULL;
    if (st == VB_OK)
        st = store_prepare(src, "SELECT id, pipeline, fold, status FROM runs WHERE experiment_id = ? ORDER BY id",
                           &q, err);
    if (st == VB_OK)
        sqlite3_bind_int64(q, 1, e->id);
    int rc = SQLITE_DONE;
    while (st == VB_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        st = merge_run(s, exp, src, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
                       (const char *)sqlite3_column_text(q, 2), (const char *)sqlite3_column_text(q, 3), rep, err);
    if (st == VB_OK && rc != SQLITE_DONE)
        st = store_fail(src, err, "cannot read the runs");
    sqlite3_finalize(q);
    /* the latest of both dates */
    if (st == VB_OK) {
        q = NULL;
        st = store_prepare(src, "SELECT updated FROM experiments WHERE id = ?", &q, err);
        if (st == VB_OK) {
            sqlite3_bind_int64(q, 1, e->id);
            if (sqlite3_step(q) == SQLITE_ROW)
                st = store_touch_experiment(s, exp, (const char *)sqlite3_column_text(q, 0), err);
        }
        sqlite3_finalize(q);
    }
    return st;
}

vb_status vb_store_merge_files(vb_store *s, const char *const *paths, size_t n, vb_merge_report *rep,
                               vb_error *err)
{
    memset(rep, 0, sizeof *rep);
    vb_status st = store_exec(s, "BEGIN IMMEDIATE", err);
    if (st != VB_OK)
        return st;
    for (size_t f = 0; st == VB_OK && f < n; f++) {
        vb_store *src = NULL;
        exp_id *e = NULL;
        size_t ne = 0;
        st = vb_store_open(paths[f], 1, &src, err);
        if (st == VB_OK)
            st = vb_store_list(src, &e, &ne, err);
        for (size_t i = 0; st == VB_OK && i < ne; i++)
            st = merge_exp(s, src, &e[i], rep, err);
        vb_store_list_free(e, ne);
        vb_store_close(src);
    }
    if (st == VB_OK)
        st = store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (st != VB_OK)
        memset(rep, 0, sizeof *rep);
    return st;
}

/* ---- one run as an SQLite image (MPI) ------------------------------------ */

/* An empty in-memory store, for an image being written or read. */
static vb_status memory_store(const char *what, vb_store **out, vb_error *err)
{
    *out = NULL;
    vb_store *m = vb_calloc(1, sizeof *m, err);
    if (!m)
        return VB_ERR_NOMEM;
    m->path = vb_strdup(what, err);
    if (!m->path || sqlite3_open_v2(":memory:", &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
                        SQLITE_OK) {
        vb_store_close(m);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return VB_OK;
}

vb_status vb_store_export_run(vb_store *s, int64_t exp, const char *pipeline, const char *fold, int drop,
                              unsigned char **blob, size_t *len, vb_error *err)
{
    *blob = NULL;
    *len = 0;
    run_row r;
    vb_status st = find_run(s, exp, pipeline, fold, &r, err);
    if (st == VB_OK && (!r.id || strcmp(r.status, "done") != 0))
        st = vb_fail(err, VB_ERR_STATE, "%s: run '%s' [%s] is not finished", s->path, pipeline, fold);
    vb_store *m = NULL;
    if (st == VB_OK)
        st = memory_store("a run image", &m, err);
    if (st == VB_OK)
        st = store_init_schema(m, err);
    int64_t mexp = 0;
    if (st == VB_OK)
        st = copy_rows(m, s, "experiments", "id", exp, NULL, 0, "id", &mexp, err);
    if (st == VB_OK)
        st = copy_run(m, mexp, s, r.id, err);
    sqlite3_int64 size = 0;
    unsigned char *img = st == VB_OK ? sqlite3_serialize(m->db, "main", &size, 0) : NULL;
    if (st == VB_OK && !img)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK && (*blob = vb_malloc((size_t)size, 1, err)) == NULL)
        st = VB_ERR_NOMEM;
    if (st == VB_OK) {
        memcpy(*blob, img, (size_t)size);
        *len = (size_t)size;
    }
    sqlite3_free(img);
    vb_store_close(m);
    if (st == VB_OK && drop)
        st = delete_run(s, r.id, err);
    if (st != VB_OK) {
        free(*blob);
        *blob = NULL;
        *len = 0;
    }
    run_row_free(&r);
    return st;
}

vb_status vb_store_import_run(vb_store *s, int64_t exp, const unsigned char *blob, size_t len, vb_error *err)
{
    vb_store *m = NULL;
    vb_status st = memory_store("a run image from an MPI worker", &m, err);
    unsigned char *copy = st == VB_OK ? sqlite3_malloc64(len ? len : 1) : NULL;
    if (st == VB_OK && !copy)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK) {
        memcpy(copy, blob, len);
        /* SQLite owns (and frees) the copy from here */
        if (sqlite3_deserialize(m->db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
                                SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK)
            st = store_fail(m, err, "cannot read");
    }
    if (st == VB_OK) /* a damaged image fails here, before anything is written */
        st = store_exec(m, "PRAGMA quick_check", err);
    if (st == VB_OK)
        st = store_init_schema(m, err); /* checks its schema version (writes nothing to a store) */
    exp_id *mine = NULL, *theirs = NULL;
    size_t n_mine = 0, n_theirs = 0;
    if (st == VB_OK)
        st = vb_store_list(m, &theirs, &n_theirs, err);
    if (st == VB_OK)
        st = vb_store_list(s, &mine, &n_mine, err);
    const exp_id *target = NULL;
    for (size_t i = 0; st == VB_OK && i < n_mine; i++)
        if (mine[i].id == exp)
            target = &mine[i];
    if (st == VB_OK && (n_theirs != 1 || !target || strcmp(theirs[0].name, target->name) != 0 ||
                        strcmp(theirs[0].spec_hash, target->spec_hash) != 0 ||
                        strcmp(theirs[0].split_hash, target->split_hash) != 0))
        st = vb_fail(err, VB_ERR_DATA, "%s: a run image of another experiment (spec or split differ)", s->path);
    sqlite3_stmt *q = NULL;
    int64_t src_run = 0;
    char *pipeline = NULL, *fold = NULL;
    if (st == VB_OK)
        st = store_prepare(m, "SELECT id, pipeline, fold FROM runs WHERE status = 'done'", &q, err);
    if (st == VB_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) {
            src_run = sqlite3_column_int64(q, 0);
            pipeline = strdup((const char *)sqlite3_column_text(q, 1));
            fold = strdup((const char *)sqlite3_column_text(q, 2));
            if (!pipeline || !fold)
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        } else
            st = vb_fail(err, VB_ERR_DATA, "%s: a run image without a finished run", s->path);
    }
    sqlite3_finalize(q);
    int began = 0;
    if (st == VB_OK && (st = store_exec(s, "BEGIN IMMEDIATE", err)) == VB_OK)
        began = 1;
    run_row have = {0};
    if (st == VB_OK)
        st = find_run(s, exp, pipeline, fold, &have, err);
    if (st == VB_OK && (!have.id || strcmp(have.status, "running") != 0 || !have.owner ||
                        strcmp(have.owner, s->owner) != 0))
        st = vb_fail(err, VB_ERR_STATE, "%s: run '%s' [%s] is not claimed by this process", s->path, pipeline, fold);
    if (st == VB_OK)
        st = delete_run(s, have.id, err);
    if (st == VB_OK)
        st = copy_run(s, exp, m, src_run, err);
    char now[32];
    store_now_iso(now);
    if (st == VB_OK)
        st = store_touch_experiment(s, exp, now, err);
    if (st == VB_OK && began)
        st = store_exec(s, "COMMIT", err);
    else if (began)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    run_row_free(&have);
    free(pipeline);
    free(fold);
    vb_store_list_free(mine, n_mine);
    vb_store_list_free(theirs, n_theirs);
    vb_store_close(m);
    return st;
}
