/* visbench merge: joins the stores of the shards of one spec (a Slurm job
 * array, visbench run --shard I/N) into one. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
        return cli_bad_option("merge", c, argv);
    if (argc - optind < 2)
        return cli_usage("merge", "expects the store to write and at least one shard, e.g. visbench merge "
                                  "results/x.db results/x.shard-*.db");
    const char *out = argv[optind];
    const char *const *shards = (const char *const *)argv + optind + 1;
    size_t n = (size_t)(argc - optind - 1);
    for (size_t i = 0; i < n; i++)
        if (cli_same_file(out, shards[i]))
            return cli_usage("merge", "'%s' is both the output and a shard; name a new store (or another one) "
                                      "first, then the shards",
                             shards[i]);
    vb_error err = {0};
    /* every shard is read and checked before the output is opened: a
     * mismatch writes nothing, not even a new empty file */
    if (vb_store_merge_check(shards, n, &err) != VB_OK)
        return cli_error(&err);
    int created = access(out, F_OK) != 0;
    const char *slash = strrchr(out, '/');
    if (created && slash && slash != out) {
        char *dir = strndup(out, (size_t)(slash - out));
        struct stat sb;
        int missing = dir && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode));
        if (missing)
            vb_fail(&err, VB_ERR_IO, "%s: there is no folder %s; create it, or name a store in a folder that exists",
                    out, dir);
        free(dir);
        if (missing)
            return cli_error(&err);
    }
    vb_store *s = NULL;
    if (vb_store_open(out, 0, &s, &err) != VB_OK)
        return cli_error(&err);
    vb_merge_report rep;
    vb_status st = vb_store_merge_files(s, shards, n, &rep, &err);
    vb_store_close(s);
    if (st != VB_OK) {
        if (created)
            vb_store_remove(out);
        return cli_error(&err);
    }
    printf("merged %zu store%s into %s: %zu run%s added, %zu replaced, %zu already there (same results)", n,
           n == 1 ? "" : "s", out, rep.added, rep.added == 1 ? "" : "s", rep.replaced, rep.same);
    if (rep.kept)
        printf(", %zu failed run%s not copied over finished ones", rep.kept, rep.kept == 1 ? "" : "s");
    if (rep.unfinished)
        printf(", %zu unfinished run%s skipped (run that shard again)", rep.unfinished,
               rep.unfinished == 1 ? "" : "s");
    printf("\n");
    return VB_EXIT_OK;
}
