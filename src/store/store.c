/* The SQLite results store. */
#define _GNU_SOURCE
#include "visbench/store.h"
#include "visbench/spec.h"
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#if defined(__clang__)
#define VB_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define VB_COMPILER "gcc " __VERSION__
#else
#define VB_COMPILER "unknown compiler"
#endif

/* Version 2: the experiment row holds only what is true of the experiment;
 * where, when, with how many threads and by which build each run ran is in
 * its own row. */
static const char *const schema[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE experiments("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, spec_text TEXT NOT NULL, spec_hash TEXT NOT NULL,"
    " dataset TEXT NOT NULL, dataset_hash TEXT NOT NULL, n_samples INTEGER NOT NULL,"
    " protocol TEXT NOT NULL, pool TEXT NOT NULL, split_hash TEXT NOT NULL, seed INTEGER NOT NULL,"
    " n_folds INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,"
    " task TEXT NOT NULL CHECK(task IN ('single-label', 'multilabel', 'hierarchical')), UNIQUE(name, split_hash))",
    "CREATE TABLE taxonomy(experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    " node INTEGER NOT NULL, name TEXT NOT NULL, parent INTEGER, PRIMARY KEY(experiment_id, node))",
    "CREATE TABLE classes(experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    " class INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY(experiment_id, class))",
    "CREATE TABLE folds(experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    " fold_index INTEGER NOT NULL, name TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK(kind IN ('holdout', 'official-test', 'cv', 'repeat', 'repeated-holdout', 'loo', 'curve')),"
    " repeat INTEGER, number INTEGER,"
    " n_train INTEGER NOT NULL, n_val INTEGER NOT NULL, n_test INTEGER NOT NULL,"
    " PRIMARY KEY(experiment_id, fold_index))",
    "CREATE TABLE samples(experiment_id INTEGER NOT NULL REFERENCES experiments(id), sample INTEGER NOT NULL,"
    " part TEXT CHECK(part IN ('train', 'test')), file TEXT, item INTEGER, PRIMARY KEY(experiment_id, sample))"
    " WITHOUT ROWID",
    "CREATE TABLE runs("
    " id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    " pipeline TEXT NOT NULL, pipeline_index INTEGER NOT NULL, fold TEXT NOT NULL, fold_index INTEGER NOT NULL,"
    " config_hash TEXT NOT NULL, config TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('running', 'done', 'failed')), owner TEXT, error TEXT,"
    " params TEXT, grid TEXT, features TEXT, dim INTEGER, probabilities INTEGER, features_shared INTEGER,"
    " n_train INTEGER, n_val INTEGER, n_test INTEGER,"
    " extract_s REAL, postprocess_s REAL, tune_s REAL, train_s REAL, predict_s REAL, peak_rss_kb INTEGER,"
    " model_bytes INTEGER,"
    " model_info TEXT, started TEXT NOT NULL, finished TEXT,"
    " host TEXT, threads INTEGER, visbench_version TEXT, compiler TEXT, cpu TEXT,"
    " UNIQUE(experiment_id, pipeline, fold))",
    "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, name))",
    "CREATE TABLE class_metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " class INTEGER NOT NULL, precision REAL, recall REAL, f1 REAL, support INTEGER, auc REAL,"
    " PRIMARY KEY(run_id, class))",
    "CREATE TABLE confusion(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " true_class INTEGER NOT NULL, pred_class INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(run_id, true_class, pred_class))",
    "CREATE TABLE predictions(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " sample INTEGER NOT NULL, true_class INTEGER NOT NULL, pred_class INTEGER NOT NULL, scores BLOB,"
    " true_set TEXT, pred_set TEXT, PRIMARY KEY(run_id, sample)) WITHOUT ROWID",
    "CREATE TABLE level_confusion(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " level INTEGER NOT NULL, true_node INTEGER NOT NULL, pred_node INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(run_id, level, true_node, pred_node))",
    "CREATE TABLE clusters(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " sample INTEGER NOT NULL, cluster INTEGER NOT NULL, PRIMARY KEY(run_id, sample)) WITHOUT ROWID",
    "CREATE TABLE curves(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, lr REAL,"
    " seconds REAL, PRIMARY KEY(run_id, epoch))",
};

vb_status store_fail(vb_store *s, vb_error *err, const char *what)
{
    int code = sqlite3_errcode(s->db);
    vb_status st = code == SQLITE_NOMEM ? VB_ERR_NOMEM
                 : code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? VB_ERR_FORMAT : VB_ERR_IO;
    if (code == SQLITE_NOTADB) /* what failed does not matter to a person: the file is no store */
        return vb_fail(err, st, "%s: not a visbench store (the file is not an SQLite database); name a new file "
                                "or a visbench store",
                       s->path);
    return vb_fail(err, st, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

vb_status store_exec(vb_store *s, const char *sql, vb_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        vb_status st = vb_fail(err, VB_ERR_IO, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return st;
    }
    return VB_OK;
}

vb_status store_prepare(vb_store *s, const char *sql, sqlite3_stmt **stmt, vb_error *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return store_fail(s, err, "prepare");
    return VB_OK;
}

/* Is the process that wrote this owner string still running? */
int store_owner_alive(const char *owner, const char *self)
{
    if (!owner)
        return 0;
    char host[128], myhost[128];
    long pid;
    unsigned long long start;
    if (sscanf(owner, "%127[^:]:%ld:%llu", host, &pid, &start) != 3)
        return 0;
    if (sscanf(self, "%127[^:]:", myhost) != 1 || strcmp(host, myhost) != 0)
        return 1; /* another machine: assume it is alive */
    if (strcmp(owner, self) == 0)
        return 0; /* our own stale claim from an earlier attempt in this process */
    return vb_proc_start(pid) == start;
}

/* ---- locking ------------------------------------------------------------
 *
 * Any number of processes may work on one store at once. SQLite waits for
 * a lock through the busy handler (60 s here) in every case but one: a
 * connection that holds a read lock and needs to turn it into a write lock
 * is refused at once with SQLITE_BUSY, without calling the handler, since
 * two readers waiting for each other to let go would deadlock. Two kinds
 * of statement would do that here:
 *  - PRAGMA journal_mode = WAL reads the file header under a shared lock,
 *    then needs an exclusive one. Two processes creating the same new store
 *    raced on it and one failed at once with "database is locked", however
 *    long the timeout. So the mode is read first (a plain read, which
 *    waits), switched only when it is not WAL yet (once in the life of a
 *    store), and a refused switch is retried with backoff within the same
 *    60 s budget (use_wal).
 *  - a deferred transaction that reads and then writes. Every transaction
 *    that writes is BEGIN IMMEDIATE instead (the write lock comes before the
 *    first read, and waits), and every other write is a single autocommit
 *    statement, which takes its write lock when it starts (and waits).
 *    Only read-only transactions (vb_store_load) are deferred: they never
 *    upgrade.
 */
#define BUSY_BUDGET_S 60.0

static int is_busy(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Waits before retry number `attempt` (about 1, 2, 4 .. 100 ms, jittered so
 * that racing processes do not retry in step); 0 once the budget counted
 * from t0 is spent. */
static int backoff(double t0, unsigned attempt)
{
    if (vb_now() - t0 > BUSY_BUDGET_S)
        return 0;
    unsigned ms = attempt < 7 ? 1u << attempt : 100u;
    unsigned h = ((unsigned)getpid() * 2654435761u) ^ (attempt * 40503u);
    usleep(ms * 500u + h % (ms * 1000u)); /* 0.5 .. 1.5 x ms */
    return 1;
}

/* The text of a pragma's one-row result ("" without a row); an SQLite code. */
static int pragma_text(vb_store *s, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *q = NULL;
    out[0] = 0;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(q, 0);
            snprintf(out, size, "%s", t ? (const char *)t : "");
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

/* WAL: readers never block the writer. See "locking" above for why the
 * mode is read before it is set, and why the switch is retried. Should the
 * file system refuse WAL (SQLite then answers with the old mode), the store
 * keeps its rollback journal: slower for readers, as safe. */
static vb_status use_wal(vb_store *s, vb_error *err)
{
    double t0 = vb_now();
    for (unsigned attempt = 0;; attempt++) {
        char mode[16];
        int rc = pragma_text(s, "PRAGMA journal_mode", mode, sizeof mode);
        if (rc == SQLITE_OK && strcmp(mode, "wal") == 0)
            return VB_OK;
        if (rc == SQLITE_OK && (rc = pragma_text(s, "PRAGMA journal_mode = WAL", mode, sizeof mode)) == SQLITE_OK)
            return VB_OK;
        if (!is_busy(rc) || !backoff(t0, attempt))
            return store_fail(s, err, "cannot switch to write-ahead logging");
    }
}

/* Wall-clock time (seconds since the Unix epoch) as ISO 8601 UTC with
 * milliseconds, "2025-03-01T12:34:56.789Z": sorts as text, and SQLite's
 * date functions read it. */
static void iso_time(double t, char out[32])
{
    time_t sec = (time_t)floor(t);
    int ms = (int)((t - (double)sec) * 1000.0);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

void store_now_iso(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    iso_time((double)ts.tv_sec + ts.tv_nsec * 1e-9, out);
}

/* Reopens a read-only store as immutable (see vb_store_open). */
static vb_status reopen_immutable(vb_store *s, const char *path, vb_error *err)
{
    vb_buf uri;
    vb_buf_init(&uri);
    vb_buf_puts(&uri, path[0] == '/' ? "file://" : "file:"); /* an empty authority before an absolute path */
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#')
            vb_buf_printf(&uri, "%%%02X", (unsigned)(unsigned char)*p);
        else
            vb_buf_append(&uri, p, 1);
    }
    vb_buf_puts(&uri, "?immutable=1");
    if (uri.failed) {
        vb_buf_free(&uri);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    sqlite3_close_v2(s->db);
    s->db = NULL;
    int rc = sqlite3_open_v2(uri.data, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL);
    vb_buf_free(&uri);
    if (rc != SQLITE_OK)
        return s->db ? store_fail(s, err, "cannot open the store") : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    return VB_OK;
}

/* Removes a store file this process created but could not set up (a full
 * disk), with its -wal and -shm, so that no empty store is left behind. */
void vb_store_remove(const char *path)
{
    unlink(path);
    char *side = vb_asprintf("%s-wal", path);
    if (side)
        unlink(side);
    free(side);
    side = vb_asprintf("%s-shm", path);
    if (side)
        unlink(side);
    free(side);
}

static char *cpu_name(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    char *name = NULL;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v++;
                while (*v == ' ')
                    v++;
                v[strcspn(v, "\n")] = 0;
                name = strdup(v);
            }
            break;
        }
    if (f)
        fclose(f);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    char *full = vb_asprintf("%s, %ld cores", name ? name : "unknown CPU", n);
    free(name);
    return full;
}

/* The schema version of the open file: 0 and *empty when it holds no table
 * at all (a new file), -1 when it has tables but no version (not a store). */
static vb_status schema_version(vb_store *s, int *version, int *empty, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    *version = -1;
    vb_status st = store_prepare(s,
                           "SELECT count(*), coalesce(sum(name = 'meta'), 0) FROM sqlite_master WHERE type = 'table'",
                           &q, err);
    int tables = 0, meta = 0;
    if (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
        tables = sqlite3_column_int(q, 0);
        meta = sqlite3_column_int(q, 1);
    } else if (st == VB_OK)
        st = store_fail(s, err, "cannot read the schema");
    sqlite3_finalize(q);
    q = NULL;
    *empty = tables == 0;
    if (st != VB_OK || !meta) {
        if (!tables)
            *version = 0;
        return st;
    }
    st = store_prepare(s, "SELECT value FROM meta WHERE key = 'schema_version'", &q, err);
    if (st == VB_OK && sqlite3_step(q) == SQLITE_ROW)
        *version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return st;
}

static vb_status check_version(vb_store *s, int version, vb_error *err)
{
    if (version == VB_STORE_SCHEMA_VERSION)
        return VB_OK;
    if (version < 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: not a visbench store (no schema version)", s->path);
    if (version > VB_STORE_SCHEMA_VERSION)
        return vb_fail(err, VB_ERR_FORMAT, "%s: written by a newer visbench (schema %d > %d); upgrade visbench",
                       s->path, version, VB_STORE_SCHEMA_VERSION);
    return vb_fail(err, VB_ERR_FORMAT,
                   "%s: store schema %d is from an older visbench, which still reads it; this visbench reads and "
                   "writes schema %d only. Move %s aside (or run with --store NEW.db) and run the spec again",
                   s->path, version, VB_STORE_SCHEMA_VERSION, s->path);
}

/* Creates the tables of a new store, or checks an existing one's version,
 * in one immediate transaction: of several processes opening a new store
 * at once, one creates it and the others find it made. An existing store
 * is never written here. */
vb_status store_init_schema(vb_store *s, vb_error *err)
{
    vb_status st = store_exec(s, "BEGIN IMMEDIATE", err);
    if (st != VB_OK)
        return st;
    int version = 0, empty = 0;
    st = schema_version(s, &version, &empty, err);
    for (size_t i = 0; st == VB_OK && empty && i < sizeof schema / sizeof schema[0]; i++)
        st = store_exec(s, schema[i], err);
    if (st == VB_OK && empty) {
        char *sql = vb_asprintf("INSERT INTO meta(key, value) VALUES ('schema_version', '%d')",
                                VB_STORE_SCHEMA_VERSION);
        st = sql ? store_exec(s, sql, err) : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        free(sql);
        version = VB_STORE_SCHEMA_VERSION;
    }
    if (st == VB_OK)
        st = check_version(s, version, err);
    if (st == VB_OK)
        st = store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

vb_status vb_store_open(const char *path, int readonly, vb_store **out, vb_error *err)
{
    *out = NULL;
    if (readonly && access(path, R_OK) != 0)
        return vb_fail(err, VB_ERR_IO, "%s: cannot open the store: %s", path, strerror(errno));
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return vb_fail(err, VB_ERR_IO, "%s: a folder, not a store; name a file", path);
    int created = !readonly && access(path, F_OK) != 0;
    /* A reader opens a file it may write read-write all the same (and
     * writes nothing: query_only), so that SQLite removes the -wal and -shm
     * files when it is the last to close the store; a read-only connection
     * leaves them beside it. */
    int rw_reader = readonly && access(path, W_OK) == 0;
    vb_store *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->path = vb_strdup(path, err);
    snprintf(s->host, sizeof s->host, "localhost");
    gethostname(s->host, sizeof s->host - 1);
    s->host[strcspn(s->host, ":")] = 0;
    snprintf(s->owner, sizeof s->owner, "%s:%ld:%llu", s->host, (long)getpid(), vb_proc_start((long)getpid()));
    int flags = rw_reader  ? SQLITE_OPEN_READWRITE
                : readonly ? SQLITE_OPEN_READONLY
                           : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    vb_status st = VB_OK;
    if (!s->path)
        st = VB_ERR_NOMEM;
    else if (!readonly && !(s->cpu = cpu_name()))
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    else if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK)
        st = s->db ? store_fail(s, err, "cannot open the store") : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK && rw_reader)
        st = store_exec(s, "PRAGMA query_only = ON", err);
    /* A store is in WAL mode, and a WAL reader needs the -shm file beside
     * it: on a read-only mount (or in a folder it may not write to) SQLite
     * cannot create it, and every query fails with "unable to open database
     * file" (or, in the folder, "attempt to write a readonly database").
     * Nothing can write there, so read the file as immutable: no locks, no
     * -shm (a -wal left there by a writer that crashed is not read; a store
     * closed cleanly has none). */
    if (st == VB_OK && readonly) {
        int rc = sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) & 0xff;
        if (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY)
            st = reopen_immutable(s, path, err);
    }
    if (st == VB_OK) {
        sqlite3_busy_timeout(s->db, (int)(BUSY_BUDGET_S * 1000));
        st = store_exec(s, "PRAGMA foreign_keys = ON", err);
    }
    /* Another file (an older store, some other database) is refused before
     * anything is written to it; a new one is made (init_schema). */
    int version = 0, empty = 0;
    if (st == VB_OK)
        st = schema_version(s, &version, &empty, err);
    if (st == VB_OK && (readonly || !empty))
        st = check_version(s, empty ? -1 : version, err);
    if (st == VB_OK && !readonly) {
        /* synchronous=NORMAL in WAL mode keeps every committed transaction
         * across a process crash (not across power loss: the last ones may
         * go, never half of one). */
        st = use_wal(s, err);
        if (st == VB_OK)
            st = store_exec(s, "PRAGMA synchronous = NORMAL", err);
        if (st == VB_OK)
            st = store_init_schema(s, err);
    }
    if (st != VB_OK) {
        vb_store_close(s);
        if (created) /* a full disk: no empty store left behind */
            vb_store_remove(path);
        return st;
    }
    *out = s;
    return VB_OK;
}

void vb_store_close(vb_store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close_v2(s->db);
    free(s->path);
    free(s->cpu);
    free(s);
}

const char *vb_store_path(const vb_store *s) { return s->path; }

void store_bind_text(sqlite3_stmt *q, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

/* Where every sample of the dataset came from: its own file (folder, CSV),
 * or a record of a file of many (IDX, CIFAR: item is the 0-based record),
 * as an absolute path; NULL when the dataset was made in memory. A row is
 * only written when it changes (the dataset moved, say), so that a rerun
 * costs reads. */
static vb_status write_samples(vb_store *s, int64_t exp, const vb_dataset *ds, vb_error *err)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "INSERT INTO samples(experiment_id, sample, part, file, item) VALUES (?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT(experiment_id, sample) DO UPDATE SET part = ?3, file = ?4, item = ?5"
                           " WHERE part IS NOT ?3 OR file IS NOT ?4 OR item IS NOT ?5",
                           &q, err);
    for (size_t i = 0; st == VB_OK && i < ds->n; i++) {
        const char *file = ds->paths ? ds->paths[i] : ds->file_of ? ds->files[ds->file_of[i]] : NULL;
        char *abs = file ? vb_path_join(cwd, file) : NULL;
        if (file && !abs) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, exp);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)i);
        int part = ds->part ? ds->part[i] : VB_PART_NONE;
        store_bind_text(q, 3, part == VB_PART_TRAIN ? "train" : part == VB_PART_TEST ? "test" : NULL);
        store_bind_text(q, 4, abs);
        if (!ds->paths && ds->file_of)
            sqlite3_bind_int64(q, 5, ds->item_of[i]);
        else
            sqlite3_bind_null(q, 5);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot record the samples");
        free(abs);
    }
    sqlite3_finalize(q);
    return st;
}

vb_status vb_store_experiment(vb_store *s, const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                              int64_t *id, vb_error *err)
{
    char spec_hash[17], data_hash[17], split_hash[17], now[32];
    snprintf(spec_hash, sizeof spec_hash, "%016" PRIx64, spec->hash);
    snprintf(data_hash, sizeof data_hash, "%016" PRIx64, split->data_hash);
    vb_split_hash_text(split, split_hash);
    store_now_iso(now);
    vb_status st = store_exec(s, "BEGIN IMMEDIATE", err);
    sqlite3_stmt *q = NULL;
    /* A rerun of the same spec leaves the row as it is; an edited spec
     * (other pipelines, the same split) is recorded, and dates the row. */
    if (st == VB_OK)
        st = store_prepare(s,
                     "INSERT INTO experiments(name, spec_text, spec_hash, dataset, dataset_hash, n_samples, protocol,"
                     " split_hash, seed, n_folds, created, updated, pool, task)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13)"
                     " ON CONFLICT(name, split_hash) DO UPDATE SET spec_text = ?2, spec_hash = ?3,"
                     " updated = CASE WHEN spec_hash = ?3 THEN updated ELSE ?11 END RETURNING id",
                     &q, err);
    if (st == VB_OK) {
        store_bind_text(q, 1, spec->name);
        store_bind_text(q, 2, spec->text);
        store_bind_text(q, 3, spec_hash);
        store_bind_text(q, 4, ds->name);
        store_bind_text(q, 5, data_hash);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)ds->n);
        store_bind_text(q, 7, vb_protocol_name(split->conf.protocol));
        store_bind_text(q, 8, split_hash);
        sqlite3_bind_int64(q, 9, (sqlite3_int64)split->conf.seed);
        sqlite3_bind_int64(q, 10, (sqlite3_int64)split->n_folds);
        store_bind_text(q, 11, now);
        store_bind_text(q, 12, vb_pool_name(split->conf.pool));
        store_bind_text(q, 13, vb_task_name(ds->task));
        if (sqlite3_step(q) != SQLITE_ROW)
            st = store_fail(s, err, "cannot record the experiment");
        else
            *id = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK)
        st = store_prepare(s, "INSERT OR REPLACE INTO classes(experiment_id, class, name) VALUES (?, ?, ?)", &q, err);
    for (int k = 0; st == VB_OK && k < ds->n_classes; k++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, *id);
        sqlite3_bind_int(q, 2, k);
        store_bind_text(q, 3, ds->classes[k]);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot record the classes");
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && ds->tax)
        st = store_prepare(s, "INSERT OR REPLACE INTO taxonomy(experiment_id, node, name, parent) VALUES (?, ?, ?, ?)", &q,
                     err);
    for (int v = 0; st == VB_OK && ds->tax && v < ds->tax->n_nodes; v++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, *id);
        sqlite3_bind_int(q, 2, v);
        store_bind_text(q, 3, ds->tax->names[v]);
        if (ds->tax->parent[v] >= 0)
            sqlite3_bind_int(q, 4, ds->tax->parent[v]);
        else
            sqlite3_bind_null(q, 4);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot record the taxonomy");
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK)
        st = store_prepare(s,
                     "INSERT OR REPLACE INTO folds(experiment_id, fold_index, name, n_train, n_val, n_test, kind,"
                     " repeat, number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &q, err);
    for (size_t f = 0; st == VB_OK && f < split->n_folds; f++) {
        const vb_fold *fo = &split->folds[f];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, *id);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)f);
        store_bind_text(q, 3, fo->name);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)fo->n_train);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)fo->n_val);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)fo->n_test);
        store_bind_text(q, 7, vb_fold_kind_name(fo->kind));
        /* 1-based where the fold has one (split.h), NULL otherwise */
        if (fo->repeat > 0)
            sqlite3_bind_int(q, 8, fo->repeat);
        else
            sqlite3_bind_null(q, 8);
        if (fo->number > 0)
            sqlite3_bind_int(q, 9, fo->number);
        else
            sqlite3_bind_null(q, 9);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot record the folds");
    }
    sqlite3_finalize(q);
    if (st == VB_OK)
        st = write_samples(s, *id, ds, err);
    if (st == VB_OK)
        st = store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

vb_status vb_store_claim(vb_store *s, int64_t exp, const char *pipeline, size_t pipeline_index, const char *fold,
                         size_t fold_index, const char *config, int retry_failed, vb_claim *out, vb_error *err)
{
    char hash[17], started[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, vb_hash64(config, strlen(config), 0));
    store_now_iso(started);
    vb_status st = store_exec(s, "BEGIN IMMEDIATE", err);
    if (st != VB_OK)
        return st;
    sqlite3_stmt *q = NULL;
    *out = VB_CLAIM_RUN;
    int exists = 0;
    st = store_prepare(s, "SELECT status, owner, config_hash FROM runs WHERE experiment_id = ? AND pipeline = ? AND fold = ?",
                 &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, exp);
        store_bind_text(q, 2, pipeline);
        store_bind_text(q, 3, fold);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            exists = 1;
            const char *status = (const char *)sqlite3_column_text(q, 0);
            const char *owner = (const char *)sqlite3_column_text(q, 1);
            const char *chash = (const char *)sqlite3_column_text(q, 2);
            int same = chash && strcmp(chash, hash) == 0;
            if (same && strcmp(status, "done") == 0)
                *out = VB_CLAIM_DONE;
            else if (same && strcmp(status, "failed") == 0 && !retry_failed)
                *out = VB_CLAIM_DONE;
            else if (strcmp(status, "running") == 0 && store_owner_alive(owner, s->owner))
                *out = VB_CLAIM_BUSY;
        } else if (rc != SQLITE_DONE)
            st = store_fail(s, err, "cannot read the runs");
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && *out == VB_CLAIM_RUN) {
        if (exists) { /* replace: cascades to its metrics and predictions */
            st = store_prepare(s, "DELETE FROM runs WHERE experiment_id = ? AND pipeline = ? AND fold = ?", &q, err);
            if (st == VB_OK) {
                sqlite3_bind_int64(q, 1, exp);
                store_bind_text(q, 2, pipeline);
                store_bind_text(q, 3, fold);
                if (sqlite3_step(q) != SQLITE_DONE)
                    st = store_fail(s, err, "cannot replace a run");
            }
            sqlite3_finalize(q);
            q = NULL;
        }
        if (st == VB_OK)
            st = store_prepare(s,
                         "INSERT INTO runs(experiment_id, pipeline, pipeline_index, fold, fold_index, config_hash,"
                         " config, status, owner, started) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                         &q, err);
        if (st == VB_OK) {
            sqlite3_bind_int64(q, 1, exp);
            store_bind_text(q, 2, pipeline);
            sqlite3_bind_int64(q, 3, (sqlite3_int64)pipeline_index);
            store_bind_text(q, 4, fold);
            sqlite3_bind_int64(q, 5, (sqlite3_int64)fold_index);
            store_bind_text(q, 6, hash);
            store_bind_text(q, 7, config);
            store_bind_text(q, 8, s->owner);
            store_bind_text(q, 9, started);
            if (sqlite3_step(q) != SQLITE_DONE)
                st = store_fail(s, err, "cannot claim a run");
        }
        sqlite3_finalize(q);
    }
    if (st == VB_OK)
        st = store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

vb_status vb_store_release(vb_store *s, int64_t exp, const char *pipeline, const char *fold, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "DELETE FROM runs WHERE experiment_id = ? AND pipeline = ? AND fold = ?"
                           " AND status = 'running' AND owner = ?",
                           &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, exp);
        store_bind_text(q, 2, pipeline);
        store_bind_text(q, 3, fold);
        store_bind_text(q, 4, s->owner);
        int rc = sqlite3_step(q);
        /* A run is released after a failure, often a full disk, where the
         * WAL cannot grow by the frames this delete needs: copy the WAL
         * into the store (its pages exist there already) and truncate it,
         * which frees that room, then try once more. */
        if (rc == SQLITE_FULL) {
            sqlite3_reset(q);
            sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
            rc = sqlite3_step(q);
        }
        if (rc != SQLITE_DONE)
            st = store_fail(s, err, "cannot release a run");
    }
    sqlite3_finalize(q);
    return st;
}

/* The id of our claimed run. */
static vb_status claimed_id(vb_store *s, int64_t exp, const char *pipeline, const char *fold, int64_t *id,
                            vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "SELECT id FROM runs WHERE experiment_id = ? AND pipeline = ? AND fold = ?"
                           " AND status = 'running' AND owner = ?",
                           &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, exp);
        store_bind_text(q, 2, pipeline);
        store_bind_text(q, 3, fold);
        store_bind_text(q, 4, s->owner);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            *id = sqlite3_column_int64(q, 0);
        else if (rc == SQLITE_DONE)
            st = vb_fail(err, VB_ERR_STATE, "%s: run %s [%s] is not claimed by this process", s->path, pipeline, fold);
        else
            st = store_fail(s, err, "cannot read the runs");
    }
    sqlite3_finalize(q);
    return st;
}

static vb_status put_metric(vb_store *s, sqlite3_stmt *q, int64_t run, const char *name, double v, vb_error *err)
{
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, run);
    store_bind_text(q, 2, name);
    if (isnan(v))
        sqlite3_bind_null(q, 3);
    else
        sqlite3_bind_double(q, 3, v);
    return sqlite3_step(q) == SQLITE_DONE ? VB_OK : store_fail(s, err, "cannot write metrics");
}

/* Where a run ran, as columns host, threads, visbench_version, compiler,
 * cpu bound from index i on: this process's (threads 0 = unknown, NULL). */
static void bind_provenance(vb_store *s, sqlite3_stmt *q, int i, int threads)
{
    store_bind_text(q, i, s->host);
    if (threads > 0)
        sqlite3_bind_int(q, i + 1, threads);
    else
        sqlite3_bind_null(q, i + 1);
    store_bind_text(q, i + 2, VB_VERSION);
    store_bind_text(q, i + 3, VB_COMPILER);
    store_bind_text(q, i + 4, s->cpu);
}

/* The experiment changed (a run was written) at `when`. */
vb_status store_touch_experiment(vb_store *s, int64_t exp, const char *when, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s, "UPDATE experiments SET updated = max(updated, ?) WHERE id = ?", &q, err);
    if (st == VB_OK) {
        store_bind_text(q, 1, when);
        sqlite3_bind_int64(q, 2, exp);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot record the experiment's update");
    }
    sqlite3_finalize(q);
    return st;
}

/* The JSON columns hold JSON: the parameters (canonical flow YAML from the
 * runner) as an object, and the classifier's facts (JSON members) in
 * braces; NULL when there are none. */
static vb_status json_columns(vb_store *s, const vb_run_result *r, vb_buf *params, vb_buf *info, vb_error *err)
{
    if (r->params && *r->params) {
        vb_doc *doc = NULL;
        vb_status st = vb_doc_load_string(r->params, "parameters", &doc, err);
        if (st != VB_OK) {
            vb_error_prefix(err, "%s: run %s [%s]: the parameters", s->path, r->pipeline, r->fold);
            return st;
        }
        vb_node_to_json(doc->root, params);
        vb_doc_free(doc);
    }
    if (r->clf_info && *r->clf_info)
        vb_buf_printf(info, "{%s}", r->clf_info);
    return params->failed || info->failed ? vb_fail(err, VB_ERR_NOMEM, "out of memory") : VB_OK;
}

static vb_status write_level_confusion(vb_store *s, int64_t run, const vb_hier_metrics *h, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "INSERT INTO level_confusion(run_id, level, true_node, pred_node, count)"
                           " VALUES (?, ?, ?, ?, ?)",
                           &q, err);
    for (int l = 0; st == VB_OK && l < h->n_levels; l++) {
        const vb_hier_level *lv = &h->level[l];
        size_t kk = (size_t)lv->n_nodes;
        for (size_t i = 0; st == VB_OK && i < kk; i++)
            for (size_t j = 0; st == VB_OK && j < kk; j++) {
                size_t cnt = lv->confusion[i * kk + j];
                if (!cnt)
                    continue;
                sqlite3_reset(q);
                sqlite3_bind_int64(q, 1, run);
                sqlite3_bind_int(q, 2, l + 1);
                sqlite3_bind_int(q, 3, lv->nodes[i]);
                sqlite3_bind_int(q, 4, lv->nodes[j]);
                sqlite3_bind_int64(q, 5, (sqlite3_int64)cnt);
                if (sqlite3_step(q) != SQLITE_DONE)
                    st = store_fail(s, err, "cannot write the confusion matrices per level");
            }
    }
    sqlite3_finalize(q);
    return st;
}

static vb_status write_run(vb_store *s, int64_t exp, int64_t run, const vb_run_result *r, vb_error *err)
{
    /* The run's own times when the runner measured them, else the claim
     * (kept from it) and now. */
    char started[32], finished[32];
    if (r->started > 0)
        iso_time(r->started, started);
    if (r->finished > 0)
        iso_time(r->finished, finished);
    else
        store_now_iso(finished);
    vb_buf params, info;
    vb_buf_init(&params);
    vb_buf_init(&info);
    sqlite3_stmt *q = NULL;
    vb_status st = json_columns(s, r, &params, &info, err);
    if (st == VB_OK)
        st = store_prepare(s,
                     "UPDATE runs SET status = 'done', owner = NULL, params = ?, grid = ?, features = ?, dim = ?,"
                     " probabilities = ?, features_shared = ?, n_train = ?, n_val = ?, n_test = ?,"
                     " extract_s = ?, tune_s = ?, train_s = ?, predict_s = ?, peak_rss_kb = ?, model_bytes = ?,"
                     " model_info = ?16, finished = ?17, started = coalesce(?19, started), host = ?20,"
                     " threads = ?21, visbench_version = ?22, compiler = ?23, cpu = ?24, postprocess_s = ?25"
                     " WHERE id = ?18",
                     &q, err);
    if (st == VB_OK) {
        store_bind_text(q, 1, params.data);
        store_bind_text(q, 2, r->grid);
        store_bind_text(q, 3, r->features);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)r->dim);
        sqlite3_bind_int(q, 5, r->proba);
        sqlite3_bind_int(q, 6, r->features_shared);
        sqlite3_bind_int64(q, 7, (sqlite3_int64)r->n_train);
        sqlite3_bind_int64(q, 8, (sqlite3_int64)r->n_val);
        sqlite3_bind_int64(q, 9, (sqlite3_int64)r->n_test);
        sqlite3_bind_double(q, 10, r->extract_s);
        sqlite3_bind_double(q, 11, r->tune_s);
        sqlite3_bind_double(q, 12, r->train_s);
        sqlite3_bind_double(q, 13, r->predict_s);
        sqlite3_bind_int64(q, 14, (sqlite3_int64)r->peak_rss_kb);
        sqlite3_bind_int64(q, 15, (sqlite3_int64)r->model_bytes);
        store_bind_text(q, 16, info.data);
        store_bind_text(q, 17, finished);
        sqlite3_bind_int64(q, 18, run);
        store_bind_text(q, 19, r->started > 0 ? started : NULL);
        bind_provenance(s, q, 20, r->threads);
        sqlite3_bind_double(q, 25, r->postprocess_s);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot write a run");
    }
    sqlite3_finalize(q);
    q = NULL;
    vb_buf_free(&params);
    vb_buf_free(&info);
    if (st == VB_OK)
        st = store_touch_experiment(s, exp, finished, err);

    const vb_metrics *m = r->metrics;
    int k = r->n_classes;
    if (st == VB_OK)
        st = store_prepare(s, "INSERT INTO metrics(run_id, name, value) VALUES (?, ?, ?)", &q, err);
    if (st == VB_OK && r->ml) {
        /* accuracy is subset accuracy (scikit-learn's accuracy_score on label sets) */
        vb_named_value ms[VB_ML_METRIC_SET_SIZE];
        vb_ml_metric_set(r->ml, ms);
        st = put_metric(s, q, run, "accuracy", r->ml->subset_accuracy, err);
        for (size_t i = 0; st == VB_OK && i < VB_ML_METRIC_SET_SIZE; i++)
            if (!isnan(ms[i].v))
                st = put_metric(s, q, run, ms[i].name, ms[i].v, err);
    } else if (st == VB_OK && !r->cluster_mode) {
        vb_named_value ms[VB_METRIC_SET_SIZE];
        vb_metric_set(m, r->truth, r->scores, r->n_test, k, r->proba, ms);
        for (size_t i = 0; st == VB_OK && i < VB_METRIC_SET_SIZE; i++)
            if (!isnan(ms[i].v))
                st = put_metric(s, q, run, ms[i].name, ms[i].v, err);
    }
    if (st == VB_OK && r->hier) {
        const vb_named_value hs[] = {{"hierarchical_precision", r->hier->hp}, {"hierarchical_recall", r->hier->hr},
                                     {"hierarchical_f1", r->hier->hf}};
        for (size_t i = 0; st == VB_OK && i < sizeof hs / sizeof hs[0]; i++)
            st = put_metric(s, q, run, hs[i].name, hs[i].v, err);
        for (int l = 0; st == VB_OK && l < r->hier->n_levels; l++) {
            char name[48];
            snprintf(name, sizeof name, "level%d_accuracy", l + 1);
            st = put_metric(s, q, run, name, r->hier->level[l].accuracy, err);
            snprintf(name, sizeof name, "level%d_macro_f1", l + 1);
            if (st == VB_OK)
                st = put_metric(s, q, run, name, r->hier->level[l].macro_f1, err);
        }
    }
    if (st == VB_OK && r->n_clusters)
        st = put_metric(s, q, run, "clusters", r->n_clusters, err);
    if (st == VB_OK && r->cluster) {
        const vb_named_value cs[] = {
            {"purity", r->cluster->purity}, {"nmi", r->cluster->nmi}, {"ari", r->cluster->ari}};
        for (size_t i = 0; st == VB_OK && i < sizeof cs / sizeof cs[0]; i++)
            st = put_metric(s, q, run, cs[i].name, cs[i].v, err);
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK)
        st = store_prepare(s,
                     "INSERT INTO class_metrics(run_id, class, precision, recall, f1, support, auc)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                     &q, err);
    /* mode: cluster keeps no classification results, only its clusters */
    for (int c = 0; st == VB_OK && !r->cluster_mode && c < k; c++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, run);
        sqlite3_bind_int(q, 2, c);
        const vb_ml_metrics *ml = r->ml;
        sqlite3_bind_double(q, 3, ml ? ml->precision[c] : m->precision[c]);
        sqlite3_bind_double(q, 4, ml ? ml->recall[c] : m->recall[c]);
        sqlite3_bind_double(q, 5, ml ? ml->f1[c] : m->f1[c]);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)(ml ? ml->support[c] : m->support[c]));
        double auc = ml ? ml->auc[c] : r->scores ? vb_auc_ovr(r->truth, r->scores, r->n_test, k, c) : NAN;
        if (isnan(auc))
            sqlite3_bind_null(q, 7);
        else
            sqlite3_bind_double(q, 7, auc);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot write class metrics");
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK)
        st = store_prepare(s, "INSERT INTO confusion(run_id, true_class, pred_class, count) VALUES (?, ?, ?, ?)", &q, err);
    /* label sets have no confusion matrix (per-label counts are in class_metrics) */
    for (int i = 0; st == VB_OK && !r->cluster_mode && m && i < k; i++)
        for (int j = 0; st == VB_OK && j < k; j++) {
            size_t cnt = m->confusion[(size_t)i * (size_t)k + (size_t)j];
            if (!cnt)
                continue;
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, run);
            sqlite3_bind_int(q, 2, i);
            sqlite3_bind_int(q, 3, j);
            sqlite3_bind_int64(q, 4, (sqlite3_int64)cnt);
            if (sqlite3_step(q) != SQLITE_DONE)
                st = store_fail(s, err, "cannot write the confusion matrix");
        }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && r->hier)
        st = write_level_confusion(s, run, r->hier, err);
    if (st == VB_OK)
        st = store_prepare(s,
                     "INSERT INTO predictions(run_id, sample, true_class, pred_class, scores, true_set, pred_set)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                     &q, err);
    vb_buf set;
    vb_buf_init(&set);
    uint8_t *blob = st == VB_OK && r->scores ? vb_malloc((size_t)k, 4, err) : NULL;
    if (st == VB_OK && r->scores && !blob)
        st = VB_ERR_NOMEM; /* not predictions without their scores */
    for (size_t i = 0; st == VB_OK && !r->cluster_mode && i < r->n_test; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, run);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)r->test_idx[i]);
        sqlite3_bind_int(q, 3, r->truth[i]);
        sqlite3_bind_int(q, 4, r->pred[i]);
        if (blob) { /* float32 little-endian, one per class */
            for (int c = 0; c < k; c++) {
                uint32_t u;
                float f = r->scores[i * (size_t)k + (size_t)c];
                memcpy(&u, &f, 4);
                for (int b = 0; b < 4; b++)
                    blob[c * 4 + b] = (uint8_t)(u >> (8 * b));
            }
            sqlite3_bind_blob(q, 5, blob, k * 4, SQLITE_TRANSIENT);
        } else
            sqlite3_bind_null(q, 5);
        for (int w = 0; w < 2; w++) {
            const uint8_t *row = w ? r->pred_sets : r->truth_sets;
            if (!row) {
                sqlite3_bind_null(q, 6 + w);
                continue;
            }
            /* as the store keeps it: label indices, ';'-separated ("" for none) */
            set.len = 0;
            vb_labelset_text(&set, row + i * (size_t)k, k, NULL);
            if (set.failed) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            sqlite3_bind_text(q, 6 + w, set.data ? set.data : "", (int)set.len, SQLITE_TRANSIENT);
        }
        if (st == VB_OK && sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot write predictions");
    }
    vb_buf_free(&set);
    free(blob);
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && r->n_assigned)
        st = store_prepare(s, "INSERT INTO clusters(run_id, sample, cluster) VALUES (?, ?, ?)", &q, err);
    for (size_t i = 0; st == VB_OK && i < r->n_assigned; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, run);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)r->assigned_idx[i]);
        sqlite3_bind_int(q, 3, r->assign[i]);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot write cluster assignments");
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && r->n_epochs)
        st = store_prepare(s,
                     "INSERT INTO curves(run_id, epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     &q, err);
    for (size_t e = 0; st == VB_OK && e < r->n_epochs; e++) {
        const vb_epoch *ep = &r->epochs[e];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, run);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)e + 1);
        double vals[6] = {ep->train_loss, ep->train_acc, ep->val_loss, ep->val_acc, ep->lr, ep->seconds};
        for (int c = 0; c < 6; c++) {
            if (isnan(vals[c]))
                sqlite3_bind_null(q, 3 + c);
            else
                sqlite3_bind_double(q, 3 + c, vals[c]);
        }
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot write learning curves");
    }
    sqlite3_finalize(q);
    return st;
}

vb_status vb_store_save_run(vb_store *s, int64_t exp, const vb_run_result *r, vb_error *err)
{
    vb_status st = store_exec(s, "BEGIN IMMEDIATE", err);
    if (st != VB_OK)
        return st;
    int64_t run = 0;
    st = claimed_id(s, exp, r->pipeline, r->fold, &run, err);
    if (st == VB_OK)
        st = write_run(s, exp, run, r, err);
    if (st == VB_OK)
        st = store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

vb_status vb_store_save_failure(vb_store *s, int64_t exp, const char *pipeline, const char *fold, const char *msg,
                                vb_error *err)
{
    char finished[32];
    store_now_iso(finished);
    vb_status st = store_exec(s, "BEGIN IMMEDIATE", err);
    if (st != VB_OK)
        return st;
    sqlite3_stmt *q = NULL;
    st = store_prepare(s,
                 "UPDATE runs SET status = 'failed', owner = NULL, error = ?, finished = ?,"
                 " host = ?, threads = ?, visbench_version = ?, compiler = ?, cpu = ?"
                 " WHERE experiment_id = ? AND pipeline = ? AND fold = ? AND owner = ?",
                 &q, err);
    if (st == VB_OK) {
        store_bind_text(q, 1, msg);
        store_bind_text(q, 2, finished);
        bind_provenance(s, q, 3, 0); /* the thread count is the runner's to say */
        sqlite3_bind_int64(q, 8, exp);
        store_bind_text(q, 9, pipeline);
        store_bind_text(q, 10, fold);
        store_bind_text(q, 11, s->owner);
        if (sqlite3_step(q) != SQLITE_DONE)
            st = store_fail(s, err, "cannot record a failure");
    }
    sqlite3_finalize(q);
    if (st == VB_OK)
        st = store_touch_experiment(s, exp, finished, err);
    if (st == VB_OK)
        st = store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* ---- reading ----------------------------------------------------------- */

/* Set when col_text could not copy a value, so that vb_store_load fails
 * with "out of memory" instead of handing back a NULL where the store has
 * text (thread-local: loads in other threads are not disturbed). */
static _Thread_local int col_text_failed;

static char *col_text(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    char *d = t ? strdup((const char *)t) : NULL;
    if (t && !d)
        col_text_failed = 1;
    return d;
}

static void run_free(vb_store_run *r)
{
    free(r->pipeline);
    free(r->fold);
    free(r->status);
    free(r->error);
    free(r->config);
    free(r->params);
    free(r->grid);
    free(r->features);
    free(r->model_info);
    for (size_t i = 0; i < r->n_metrics; i++)
        free(r->metric_names[i]);
    free(r->metric_names);
    free(r->metric_values);
    free(r->precision);
    free(r->recall);
    free(r->f1);
    free(r->auc);
    free(r->support);
    free(r->confusion);
    free(r->sample);
    free(r->truth);
    free(r->pred);
    free(r->scores);
    free(r->epochs);
    free(r->started);
    free(r->finished);
    free(r->host);
    free(r->version);
    free(r->compiler);
    free(r->cpu);
    free(r->truth_sets);
    free(r->pred_sets);
    free(r->lc_level);
    free(r->lc_true);
    free(r->lc_pred);
    free(r->lc_count);
}

void vb_store_exp_free(vb_store_exp *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_runs; i++)
        run_free(&e->runs[i]);
    free(e->runs);
    for (size_t i = 0; i < e->n_curve_runs; i++)
        run_free(&e->curve_runs[i]);
    free(e->curve_runs);
    for (int k = 0; e->classes && k < e->n_classes; k++)
        free(e->classes[k]);
    free(e->classes);
    free(e->name);
    free(e->spec_text);
    free(e->spec_hash);
    free(e->dataset);
    free(e->dataset_hash);
    free(e->protocol);
    free(e->split_hash);
    free(e->created);
    free(e->updated);
    free(e->pool);
    free(e->task);
    vb_taxonomy_free(e->tax);
    free(e);
}

int vb_store_run_is_test(const vb_store_run *r)
{
    return r->fold_kind == VB_FOLD_HOLDOUT || r->fold_kind == VB_FOLD_OFFICIAL_TEST;
}

int vb_store_run_first_repetition(const vb_store_run *r)
{
    return r->fold_kind == VB_FOLD_CV || r->fold_kind == VB_FOLD_LOO ||
           ((r->fold_kind == VB_FOLD_REPEAT || r->fold_kind == VB_FOLD_REPEATED_HOLDOUT) && r->fold_repeat == 1);
}

int vb_store_run_resampled(const vb_store_run *r)
{
    return r->fold_kind == VB_FOLD_CV || r->fold_kind == VB_FOLD_REPEAT || r->fold_kind == VB_FOLD_REPEATED_HOLDOUT;
}

double vb_store_metric(const vb_store_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metric_names[i], name) == 0)
            return r->metric_values[i];
    return NAN;
}

static vb_status load_level_confusion(vb_store *s, vb_store_run *r, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "SELECT level, true_node, pred_node, count FROM level_confusion WHERE run_id = ?"
                           " ORDER BY level, true_node, pred_node",
                           &q, err);
    size_t cap = 0;
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, r->id);
        while (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
            if (r->n_level_conf == cap) {
                cap = cap ? 2 * cap : 64;
                int *a = realloc(r->lc_level, cap * sizeof *a);
                if (a)
                    r->lc_level = a;
                int *b = realloc(r->lc_true, cap * sizeof *b);
                if (b)
                    r->lc_true = b;
                int *c = realloc(r->lc_pred, cap * sizeof *c);
                if (c)
                    r->lc_pred = c;
                size_t *d = realloc(r->lc_count, cap * sizeof *d);
                if (d)
                    r->lc_count = d;
                if (!a || !b || !c || !d) {
                    st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                    break;
                }
            }
            size_t i = r->n_level_conf++;
            r->lc_level[i] = sqlite3_column_int(q, 0);
            r->lc_true[i] = sqlite3_column_int(q, 1);
            r->lc_pred[i] = sqlite3_column_int(q, 2);
            r->lc_count[i] = (size_t)sqlite3_column_int64(q, 3);
        }
    }
    sqlite3_finalize(q);
    return st;
}

/* "0;3" back into a row of k bytes (indices out of range are ignored). */
static void parse_set(const char *t, uint8_t *row, size_t k)
{
    memset(row, 0, k);
    while (t && *t) {
        char *end;
        long v = strtol(t, &end, 10);
        if (end == t)
            break;
        if (v >= 0 && (size_t)v < k)
            row[v] = 1;
        t = *end == ';' ? end + 1 : end;
    }
}

/* A predictions row's scores: k little-endian floats. */
static void scores_decode(const uint8_t *b, size_t k, float *out)
{
    for (size_t c = 0; c < k; c++) {
        uint32_t u = (uint32_t)b[4 * c] | (uint32_t)b[4 * c + 1] << 8 | (uint32_t)b[4 * c + 2] << 16 |
                     (uint32_t)b[4 * c + 3] << 24;
        memcpy(&out[c], &u, 4);
    }
}

static vb_status load_run_details(vb_store *s, vb_store_exp *e, vb_store_run *r, int with_pred, vb_error *err)
{
    size_t k = (size_t)e->n_classes;
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s, "SELECT name, value FROM metrics WHERE run_id = ? ORDER BY name", &q, err);
    while (st == VB_OK) {
        if (q && sqlite3_bind_int64(q, 1, r->id) != SQLITE_OK) {
            st = store_fail(s, err, "bind");
            break;
        }
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            char **nn = realloc(r->metric_names, (r->n_metrics + 1) * sizeof *nn);
            double *nv = nn ? realloc(r->metric_values, (r->n_metrics + 1) * sizeof *nv) : NULL;
            if (nn)
                r->metric_names = nn;
            if (!nn || !nv) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            r->metric_values = nv;
            r->metric_names[r->n_metrics] = col_text(q, 0);
            r->metric_values[r->n_metrics++] =
                sqlite3_column_type(q, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 1);
        }
        if (st == VB_OK && rc != SQLITE_DONE)
            st = store_fail(s, err, "cannot read metrics");
        break;
    }
    sqlite3_finalize(q);
    q = NULL;
    r->precision = calloc(k, sizeof *r->precision);
    r->recall = calloc(k, sizeof *r->recall);
    r->f1 = calloc(k, sizeof *r->f1);
    r->auc = calloc(k, sizeof *r->auc);
    r->support = calloc(k, sizeof *r->support);
    r->confusion = calloc(k * k, sizeof *r->confusion);
    if (st == VB_OK && (!r->precision || !r->recall || !r->f1 || !r->auc || !r->support || !r->confusion))
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (size_t c = 0; r->auc && c < k; c++)
        r->auc[c] = NAN;
    if (st == VB_OK)
        st = store_prepare(s, "SELECT class, precision, recall, f1, support, auc FROM class_metrics WHERE run_id = ?", &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, r->id);
        while (sqlite3_step(q) == SQLITE_ROW) {
            int c = sqlite3_column_int(q, 0);
            if (c < 0 || (size_t)c >= k)
                continue;
            r->precision[c] = sqlite3_column_double(q, 1);
            r->recall[c] = sqlite3_column_double(q, 2);
            r->f1[c] = sqlite3_column_double(q, 3);
            r->support[c] = (size_t)sqlite3_column_int64(q, 4);
            r->auc[c] = sqlite3_column_type(q, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 5);
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK)
        st = store_prepare(s, "SELECT true_class, pred_class, count FROM confusion WHERE run_id = ?", &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, r->id);
        while (sqlite3_step(q) == SQLITE_ROW) {
            int i = sqlite3_column_int(q, 0), j = sqlite3_column_int(q, 1);
            if (i >= 0 && j >= 0 && (size_t)i < k && (size_t)j < k)
                r->confusion[(size_t)i * k + (size_t)j] = (size_t)sqlite3_column_int64(q, 2);
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && e->tax)
        st = load_level_confusion(s, r, err);
    if (st == VB_OK)
        st = store_prepare(s,
                     "SELECT train_loss, train_acc, val_loss, val_acc, lr, seconds FROM curves WHERE run_id = ?"
                     " ORDER BY epoch",
                     &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, r->id);
        while (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
            vb_store_epoch *ne = realloc(r->epochs, (r->n_epochs + 1) * sizeof *ne);
            if (!ne) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            r->epochs = ne;
            double *v = &ne[r->n_epochs].train_loss;
            for (int c = 0; c < 6; c++)
                v[c] = sqlite3_column_type(q, c) == SQLITE_NULL ? NAN : sqlite3_column_double(q, c);
            r->n_epochs++;
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st != VB_OK || !with_pred || strcmp(r->status, "done") != 0)
        return st;
    size_t n = r->n_test;
    r->sample = calloc(n ? n : 1, sizeof *r->sample);
    r->truth = calloc(n ? n : 1, sizeof *r->truth);
    r->pred = calloc(n ? n : 1, sizeof *r->pred);
    r->scores = calloc((n ? n : 1) * k, sizeof *r->scores);
    if (!r->sample || !r->truth || !r->pred || !r->scores)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    int ml = e->task && strcmp(e->task, "multilabel") == 0;
    if (ml && (!(r->truth_sets = calloc((n ? n : 1) * k, 1)) || !(r->pred_sets = calloc((n ? n : 1) * k, 1))))
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    st = store_prepare(s,
                 "SELECT sample, true_class, pred_class, scores, true_set, pred_set FROM predictions WHERE run_id = ?"
                 " ORDER BY sample",
                 &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, r->id);
        size_t i = 0;
        while (i < n && sqlite3_step(q) == SQLITE_ROW) {
            r->sample[i] = (size_t)sqlite3_column_int64(q, 0);
            r->truth[i] = sqlite3_column_int(q, 1);
            r->pred[i] = sqlite3_column_int(q, 2);
            const uint8_t *b = sqlite3_column_blob(q, 3);
            if (b && (size_t)sqlite3_column_bytes(q, 3) == 4 * k)
                scores_decode(b, k, &r->scores[i * k]);
            if (ml) {
                parse_set((const char *)sqlite3_column_text(q, 4), r->truth_sets + i * k, k);
                parse_set((const char *)sqlite3_column_text(q, 5), r->pred_sets + i * k, k);
            }
            i++;
        }
        r->n_pred = i;
    }
    sqlite3_finalize(q);
    return st;
}

/* The taxonomy of a hierarchical experiment (its leaves are the classes). */
static vb_status load_taxonomy(vb_store *s, vb_store_exp *e, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    int n = 0;
    vb_status st = store_prepare(s, "SELECT count(*) FROM taxonomy WHERE experiment_id = ?", &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, e->id);
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int(q, 0);
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st != VB_OK)
        return st;
    if (n < e->n_classes || n > (1 << 24))
        return vb_fail(err, VB_ERR_FORMAT, "%s: the taxonomy of experiment %" PRId64 " is incomplete", s->path,
                       e->id);
    if (!(e->tax = vb_taxonomy_new(e->n_classes, n, err)))
        return VB_ERR_NOMEM;
    st = store_prepare(s, "SELECT node, name, parent FROM taxonomy WHERE experiment_id = ? ORDER BY node", &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, e->id);
        int at = 0;
        while (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
            int v = sqlite3_column_int(q, 0);
            if (v != at || v >= n) {
                st = vb_fail(err, VB_ERR_FORMAT, "%s: the taxonomy's nodes are not numbered 0..%d", s->path, n - 1);
                break;
            }
            e->tax->names[v] = col_text(q, 1);
            e->tax->parent[v] = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 2);
            at++;
        }
    }
    sqlite3_finalize(q);
    if (st == VB_OK && col_text_failed)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = vb_taxonomy_finish(e->tax, s->path, err);
    return st;
}

vb_status vb_store_load(vb_store *s, int64_t id, int with_predictions, vb_store_exp **out, vb_error *err)
{
    *out = NULL;
    col_text_failed = 0;
    vb_store_exp *e = vb_calloc(1, sizeof *e, err);
    if (!e)
        return VB_ERR_NOMEM;
    /* One read transaction: every row from one snapshot, though other
     * processes write runs meanwhile. */
    vb_status st = store_exec(s, "BEGIN", err);
    if (st != VB_OK) {
        free(e);
        return st;
    }
    sqlite3_stmt *q = NULL;
    st = store_prepare(s,
                 "SELECT id, name, spec_text, spec_hash, dataset, dataset_hash, protocol, split_hash, seed,"
                 " created, updated, pool, task FROM experiments"
                 " WHERE ?1 = 0 OR id = ?1 ORDER BY updated DESC, id DESC LIMIT 1",
                 &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, id);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            e->id = sqlite3_column_int64(q, 0);
            e->name = col_text(q, 1);
            e->spec_text = col_text(q, 2);
            e->spec_hash = col_text(q, 3);
            e->dataset = col_text(q, 4);
            e->dataset_hash = col_text(q, 5);
            e->protocol = col_text(q, 6);
            e->split_hash = col_text(q, 7);
            e->seed = (uint64_t)sqlite3_column_int64(q, 8);
            e->created = col_text(q, 9);
            e->updated = col_text(q, 10);
            e->pool = col_text(q, 11);
            e->task = col_text(q, 12);
        } else if (rc == SQLITE_DONE)
            st = id ? vb_fail(err, VB_ERR_DATA, "%s: no experiment %" PRId64, s->path, id)
                    : vb_fail(err, VB_ERR_DATA, "%s: the store holds no experiment yet", s->path);
        else
            st = store_fail(s, err, "cannot read the experiments");
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK)
        st = store_prepare(s, "SELECT class, name FROM classes WHERE experiment_id = ? ORDER BY class", &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, e->id);
        while (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
            char **nc = realloc(e->classes, (size_t)(e->n_classes + 1) * sizeof *nc);
            if (!nc) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            e->classes = nc;
            nc[e->n_classes++] = col_text(q, 1);
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st == VB_OK && e->task && strcmp(e->task, "hierarchical") == 0)
        st = load_taxonomy(s, e, err);
    if (st == VB_OK)
        st = store_prepare(s,
                     "SELECT id, pipeline, fold, fold_index, status, error, config, params, grid, features, dim,"
                     " probabilities, features_shared, n_train, n_val, n_test, extract_s, tune_s, train_s, predict_s,"
                     " peak_rss_kb, model_bytes, model_info, pipeline_index, started, finished, host, threads,"
                     " visbench_version, compiler, cpu, postprocess_s,"
                     " (SELECT kind FROM folds f WHERE f.experiment_id = runs.experiment_id AND f.name = runs.fold),"
                     " (SELECT repeat FROM folds f WHERE f.experiment_id = runs.experiment_id AND f.name = runs.fold),"
                     " (SELECT number FROM folds f WHERE f.experiment_id = runs.experiment_id AND f.name = runs.fold)"
                     " FROM runs WHERE experiment_id = ? ORDER BY pipeline_index, pipeline, fold_index",
                     &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, e->id);
        while (st == VB_OK && sqlite3_step(q) == SQLITE_ROW) {
            vb_store_run *nr = realloc(e->runs, (e->n_runs + 1) * sizeof *nr);
            if (!nr) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            e->runs = nr;
            vb_store_run *r = &nr[e->n_runs++];
            memset(r, 0, sizeof *r);
            r->id = sqlite3_column_int64(q, 0);
            r->pipeline = col_text(q, 1);
            r->fold = col_text(q, 2);
            r->fold_index = sqlite3_column_int(q, 3);
            r->status = col_text(q, 4);
            r->error = col_text(q, 5);
            r->config = col_text(q, 6);
            r->params = col_text(q, 7);
            r->grid = col_text(q, 8);
            r->features = col_text(q, 9);
            r->dim = (size_t)sqlite3_column_int64(q, 10);
            r->proba = sqlite3_column_int(q, 11);
            r->features_shared = sqlite3_column_int(q, 12);
            r->n_train = (size_t)sqlite3_column_int64(q, 13);
            r->n_val = (size_t)sqlite3_column_int64(q, 14);
            r->n_test = (size_t)sqlite3_column_int64(q, 15);
            r->extract_s = sqlite3_column_double(q, 16);
            r->tune_s = sqlite3_column_double(q, 17);
            r->train_s = sqlite3_column_double(q, 18);
            r->predict_s = sqlite3_column_double(q, 19);
            r->peak_rss_kb = (size_t)sqlite3_column_int64(q, 20);
            r->model_bytes = (size_t)sqlite3_column_int64(q, 21);
            r->model_info = col_text(q, 22);
            r->pipeline_index = sqlite3_column_int(q, 23);
            r->started = col_text(q, 24);
            r->finished = col_text(q, 25);
            r->host = col_text(q, 26);
            r->threads = sqlite3_column_int(q, 27);
            r->version = col_text(q, 28);
            r->compiler = col_text(q, 29);
            r->cpu = col_text(q, 30);
            r->postprocess_s = sqlite3_column_double(q, 31);
            const char *kind = (const char *)sqlite3_column_text(q, 32);
            if (!kind || !vb_fold_kind_parse(kind, &r->fold_kind))
                st = vb_fail(err, VB_ERR_FORMAT, "%s: run %s [%s] has no fold of a known kind", s->path,
                             r->pipeline ? r->pipeline : "?", r->fold ? r->fold : "?");
            r->fold_repeat = sqlite3_column_type(q, 33) == SQLITE_NULL ? 0 : sqlite3_column_int(q, 33);
            r->fold_number = sqlite3_column_type(q, 34) == SQLITE_NULL ? 0 : sqlite3_column_int(q, 34);
            if (st == VB_OK && col_text_failed)
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            else if (st == VB_OK && (!r->pipeline || !r->fold || !r->status))
                st = vb_fail(err, VB_ERR_FORMAT, "%s: a run lacks its pipeline, fold or status", s->path);
        }
    }
    sqlite3_finalize(q);
    for (size_t i = 0; st == VB_OK && i < e->n_runs; i++)
        st = load_run_details(s, e, &e->runs[i], with_predictions, err);
    /* learning-curve runs apart: the leaderboard, tests and charts of the
     * experiment never see them */
    size_t kept = 0;
    for (size_t i = 0; st == VB_OK && i < e->n_runs; i++)
        kept += e->runs[i].fold_kind != VB_FOLD_CURVE;
    if (st == VB_OK && kept < e->n_runs) {
        e->n_curve_runs = e->n_runs - kept;
        if (!(e->curve_runs = vb_calloc(e->n_curve_runs, sizeof *e->curve_runs, err)))
            st = VB_ERR_NOMEM;
        for (size_t i = 0, a = 0, b = 0; st == VB_OK && i < e->n_runs; i++) {
            if (e->runs[i].fold_kind == VB_FOLD_CURVE)
                e->curve_runs[b++] = e->runs[i];
            else
                e->runs[a++] = e->runs[i];
        }
        if (st == VB_OK)
            e->n_runs = kept;
        else
            e->n_curve_runs = 0;
    }
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* ends the read; nothing to lose */
    if (st == VB_OK && col_text_failed)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st != VB_OK) {
        vb_store_exp_free(e);
        return st;
    }
    *out = e;
    return VB_OK;
}

vb_status vb_store_list(vb_store *s, vb_store_exp_info **out, size_t *n, vb_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "SELECT e.id, e.name, e.dataset, e.protocol, e.split_hash, e.created, e.updated,"
                           " count(r.id), coalesce(sum(r.status = 'done'), 0), coalesce(sum(r.status = 'failed'), 0),"
                           " e.spec_hash FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id GROUP BY e.id ORDER BY e.id",
                           &q, err);
    int rc = SQLITE_DONE;
    while (st == VB_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        vb_store_exp_info *nl = realloc(*out, (*n + 1) * sizeof *nl);
        if (!nl) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        *out = nl;
        vb_store_exp_info *x = &nl[(*n)++];
        x->id = sqlite3_column_int64(q, 0);
        x->name = col_text(q, 1);
        x->dataset = col_text(q, 2);
        x->protocol = col_text(q, 3);
        x->split_hash = col_text(q, 4);
        x->created = col_text(q, 5);
        x->updated = col_text(q, 6);
        x->n_runs = (size_t)sqlite3_column_int64(q, 7);
        x->n_done = (size_t)sqlite3_column_int64(q, 8);
        x->n_failed = (size_t)sqlite3_column_int64(q, 9);
        x->spec_hash = col_text(q, 10);
        if (!x->name || !x->dataset || !x->protocol || !x->split_hash || !x->created || !x->updated ||
            !x->spec_hash)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    if (st == VB_OK && rc != SQLITE_DONE)
        st = store_fail(s, err, "cannot read the experiments");
    sqlite3_finalize(q);
    if (st != VB_OK) {
        vb_store_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return st;
}

void vb_store_list_free(vb_store_exp_info *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].dataset);
        free(list[i].protocol);
        free(list[i].split_hash);
        free(list[i].created);
        free(list[i].updated);
        free(list[i].spec_hash);
    }
    free(list);
}

vb_status vb_store_clusters_csv(vb_store *s, int64_t exp, vb_buf *b, vb_error *err)
{
    sqlite3_stmt *q = NULL;
    vb_status st = store_prepare(s,
                           "SELECT r.pipeline, r.fold, c.sample, m.part, m.file, m.item, c.cluster"
                           " FROM clusters c JOIN runs r ON r.id = c.run_id"
                           " LEFT JOIN samples m ON m.experiment_id = r.experiment_id AND m.sample = c.sample"
                           " WHERE r.experiment_id = ? AND r.status = 'done'"
                           " ORDER BY r.pipeline_index, r.fold_index, c.sample",
                           &q, err);
    if (st != VB_OK)
        return st;
    sqlite3_bind_int64(q, 1, exp);
    vb_buf_puts(b, "pipeline,fold,sample,part,file,item,cluster\n");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < 7; c++) {
            if (c)
                vb_buf_puts(b, ",");
            if (sqlite3_column_type(q, c) == SQLITE_INTEGER)
                vb_buf_printf(b, "%lld", (long long)sqlite3_column_int64(q, c));
            else if (sqlite3_column_type(q, c) != SQLITE_NULL)
                vb_buf_csv_field(b, (const char *)sqlite3_column_text(q, c));
        }
        vb_buf_puts(b, "\n");
    }
    if (rc != SQLITE_DONE)
        st = store_fail(s, err, "cannot read the cluster assignments");
    sqlite3_finalize(q);
    return st;
}

/* ---- one run's predictions, for an ensemble of it ------------------------ */

typedef struct test_pos {
    size_t sample, pos;
} test_pos;

static int test_pos_cmp(const void *a, const void *b)
{
    const test_pos *x = a, *y = b;
    return x->sample < y->sample ? -1 : x->sample > y->sample;
}

vb_status vb_store_run_predictions(vb_store *s, int64_t exp, const char *pipeline, const char *fold,
                                   const size_t *test, size_t n, int k, int **labels, float **scores, int *proba,
                                   vb_error *err)
{
    *labels = NULL;
    *scores = NULL;
    sqlite3_stmt *q = NULL;
    int64_t run = 0;
    vb_status st = store_prepare(s,
                                 "SELECT id, probabilities, n_test FROM runs WHERE experiment_id = ? AND pipeline = ?"
                                 " AND fold = ? AND status = 'done'",
                                 &q, err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, exp);
        sqlite3_bind_text(q, 2, pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, fold, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && (size_t)sqlite3_column_int64(q, 2) == n) {
            run = sqlite3_column_int64(q, 0);
            *proba = sqlite3_column_int(q, 1);
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st != VB_OK || !run)
        return st;
    test_pos *tp = vb_malloc(n ? n : 1, sizeof *tp, err);
    int *l = tp ? vb_malloc(n ? n : 1, sizeof *l, err) : NULL;
    float *sc = l ? vb_malloc(n ? n : 1, (size_t)k * sizeof *sc, err) : NULL;
    if (!sc) {
        free(tp);
        free(l);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        tp[i] = (test_pos){test[i], i};
    qsort(tp, n, sizeof *tp, test_pos_cmp);
    size_t got = 0;
    st = store_prepare(s, "SELECT sample, pred_class, scores FROM predictions WHERE run_id = ? ORDER BY sample", &q,
                       err);
    if (st == VB_OK) {
        sqlite3_bind_int64(q, 1, run);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            const uint8_t *b = sqlite3_column_blob(q, 2);
            int p = sqlite3_column_int(q, 1);
            /* a row of another test set, or without its scores: not this fold's run */
            if (got >= n || (size_t)sqlite3_column_int64(q, 0) != tp[got].sample || !b ||
                (size_t)sqlite3_column_bytes(q, 2) != 4 * (size_t)k || p < 0 || p >= k)
                break;
            size_t at = tp[got].pos;
            l[at] = p;
            scores_decode(b, (size_t)k, &sc[at * (size_t)k]);
            got++;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            st = store_fail(s, err, "cannot read predictions");
    }
    sqlite3_finalize(q);
    free(tp);
    if (st != VB_OK || got != n) {
        free(l);
        free(sc);
        return st;
    }
    *labels = l;
    *scores = sc;
    return VB_OK;
}
