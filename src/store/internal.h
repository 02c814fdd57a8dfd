/* What the store's own files share (store.c: opening, writing, reading;
 * merge.c: joining stores and moving runs between MPI ranks). Not a public
 * interface: everything outside src/store goes through visbench/store.h. */
#ifndef VISBENCH_STORE_INTERNAL_H
#define VISBENCH_STORE_INTERNAL_H

#include "visbench/store.h"

#include <sqlite3.h>

struct vb_store {
    sqlite3 *db;
    char *path;      /* what messages name: the file, or what an in-memory store holds */
    char host[128];
    char owner[160]; /* host:pid:start-time of this process */
    char *cpu;       /* "model name, N cores" (read-write stores) */
};

/* The message of the connection's last error, as a vb_status naming the
 * store and what failed. */
vb_status store_fail(vb_store *s, vb_error *err, const char *what);
vb_status store_exec(vb_store *s, const char *sql, vb_error *err);
vb_status store_prepare(vb_store *s, const char *sql, sqlite3_stmt **stmt, vb_error *err);
void store_bind_text(sqlite3_stmt *q, int i, const char *v);
/* Creates the tables of an empty database, or checks an existing store's
 * schema version, in one transaction. */
vb_status store_init_schema(vb_store *s, vb_error *err);
/* Is the process that wrote this owner string (host:pid:start) alive? Only
 * a process on this host can be checked; one elsewhere counts as alive. */
int store_owner_alive(const char *owner, const char *self);
void store_now_iso(char out[32]);
vb_status store_touch_experiment(vb_store *s, int64_t exp, const char *when, vb_error *err);

#endif
