/* taxonomy: depths, levels, paths, validation, hashing and serialisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/taxonomy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Leaves A B C D E (0..4), groups x (5, top), y (6, under x), z (7, top):
 *
 *   x ── y ── A, B          depths: x 1, z 1, y 2, C D E 2, A B 3
 *   │    └─
 *   └─ C
 *   z ── D, E
 */
enum { A, B, C, D, E, X, Y, Z, N_NODES };
static const char *const names5[N_NODES] = {"A", "B", "C", "D", "E", "x", "y", "z"};
static const int parent5[N_NODES] = {Y, Y, X, Z, Z, -1, X, -1};

static vb_taxonomy *tax5(void)
{
    vb_taxonomy *t = tu_taxonomy(5, N_NODES, names5, parent5);
    vb_error err = {0};
    if (vb_taxonomy_finish(t, "tax5", &err) != VB_OK)
        fail_msg("%s", err.msg);
    return t;
}

static void test_depths_and_levels(void **state)
{
    vb_taxonomy *t = tax5();
    const int depth[N_NODES] = {3, 3, 2, 2, 2, 1, 2, 1};
    assert_memory_equal(t->depth, depth, sizeof depth);
    assert_int_equal(t->max_depth, 3);

    /* at_level: the ancestor at that depth, or the node itself when it is
     * not deeper */
    assert_int_equal(vb_tax_at_level(t, A, 1), X);
    assert_int_equal(vb_tax_at_level(t, A, 2), Y);
    assert_int_equal(vb_tax_at_level(t, A, 3), A);
    assert_int_equal(vb_tax_at_level(t, C, 1), X);
    assert_int_equal(vb_tax_at_level(t, C, 2), C);
    assert_int_equal(vb_tax_at_level(t, C, 3), C);
    assert_int_equal(vb_tax_at_level(t, E, 1), Z);
    assert_int_equal(vb_tax_at_level(t, Y, 1), X);
    assert_int_equal(vb_tax_at_level(t, Y, 3), Y);
    assert_int_equal(vb_tax_at_level(t, Z, 2), Z);

    /* level nodes: depth L, plus the leaves shallower than L, ascending */
    int nodes[N_NODES];
    assert_int_equal(vb_tax_level_nodes(t, 1, NULL), 2);
    assert_int_equal(vb_tax_level_nodes(t, 1, nodes), 2);
    assert_int_equal(nodes[0], X);
    assert_int_equal(nodes[1], Z);
    const int l2[] = {C, D, E, Y}, l3[] = {A, B, C, D, E};
    assert_int_equal(vb_tax_level_nodes(t, 2, nodes), 4);
    assert_memory_equal(nodes, l2, sizeof l2);
    assert_int_equal(vb_tax_level_nodes(t, 3, NULL), 5);
    assert_int_equal(vb_tax_level_nodes(t, 3, nodes), 5);
    assert_memory_equal(nodes, l3, sizeof l3);
    vb_taxonomy_free(t);
}

static void test_paths_and_ancestors(void **state)
{
    vb_taxonomy *t = tax5();
    int path[VB_TAX_MAX_DEPTH];
    assert_int_equal(vb_tax_path(t, A, path, VB_TAX_MAX_DEPTH), 3);
    assert_int_equal(path[0], X);
    assert_int_equal(path[1], Y);
    assert_int_equal(path[2], A);
    assert_int_equal(vb_tax_path(t, D, path, VB_TAX_MAX_DEPTH), 2);
    assert_int_equal(path[0], Z);
    assert_int_equal(path[1], D);
    assert_int_equal(vb_tax_path(t, X, path, VB_TAX_MAX_DEPTH), 1);
    assert_int_equal(path[0], X);
    /* Room for fewer than the depth: the top of the path. */
    path[2] = -7;
    assert_int_equal(vb_tax_path(t, B, path, 2), 2);
    assert_int_equal(path[0], X);
    assert_int_equal(path[1], Y);
    assert_int_equal(path[2], -7);

    vb_buf b;
    vb_buf_init(&b);
    vb_tax_path_text(t, B, &b);
    vb_buf_puts(&b, "|");
    vb_tax_path_text(t, C, &b);
    vb_buf_puts(&b, "|");
    vb_tax_path_text(t, E, &b);
    vb_buf_puts(&b, "|");
    vb_tax_path_text(t, Z, &b);
    vb_buf_append(&b, "", 1);
    assert_string_equal(b.data, "x/y/B|x/C|z/E|z");
    vb_buf_free(&b);

    assert_true(vb_tax_is_ancestor(t, X, A));
    assert_true(vb_tax_is_ancestor(t, Y, B));
    assert_true(vb_tax_is_ancestor(t, X, C));
    assert_true(vb_tax_is_ancestor(t, A, A)); /* a node is its own */
    assert_true(vb_tax_is_ancestor(t, Z, E));
    assert_false(vb_tax_is_ancestor(t, Y, C)); /* C hangs from x, beside y */
    assert_false(vb_tax_is_ancestor(t, Z, A));
    assert_false(vb_tax_is_ancestor(t, A, X)); /* not the other way round */
    assert_false(vb_tax_is_ancestor(t, A, B));
    vb_taxonomy_free(t);
}

/* Finishes a taxonomy that must fail with VB_ERR_DATA and a message. */
static void expect_invalid(int n_leaves, int n_nodes, const char *const *names, const int *parent,
                           const char *needle)
{
    vb_taxonomy *t = tu_taxonomy(n_leaves, n_nodes, names, parent);
    vb_error err = {0};
    tu_assert_fails_with(vb_taxonomy_finish(t, "shoes.yaml", &err), err, needle);
    assert_int_equal(err.status, VB_ERR_DATA);
    assert_int_equal(t->max_depth, 0); /* not usable as a finished one */
    assert_memory_equal(err.msg, "shoes.yaml: ", 12);
    vb_taxonomy_free(t);
}

static void test_finish_errors(void **state)
{
    /* g and h are each other's parents */
    const char *const cyc[] = {"A", "B", "g", "h"};
    expect_invalid(2, 4, cyc, (const int[]){2, 3, 3, 2}, "is its own ancestor (the hierarchy has a cycle)");
    /* a group its own parent */
    expect_invalid(2, 3, cyc, (const int[]){2, 2, 2}, "group 'g' is its own ancestor");

    const char *const dup[] = {"Bag", "Sneaker", "Sneaker", "footwear"};
    expect_invalid(3, 4, dup, (const int[]){-1, 3, 3, -1}, "class 'Sneaker' appears twice in the hierarchy");
    /* a group named like a class */
    const char *const dup2[] = {"Bag", "Sneaker", "Bag"};
    expect_invalid(2, 3, dup2, (const int[]){2, 2, -1}, "class 'Bag' appears twice in the hierarchy");

    /* C's parent is the leaf A */
    const int at_leaf[N_NODES] = {Y, Y, A, Z, Z, -1, X, -1};
    expect_invalid(5, N_NODES, names5, at_leaf, "class 'C' is under 'A', which is a class, not a group");
    const int out_of_range[N_NODES] = {Y, Y, X, Z, 99, -1, X, -1};
    expect_invalid(5, N_NODES, names5, out_of_range, "class 'E' has parent 99, not a node of the hierarchy");
    const int negative[N_NODES] = {Y, Y, X, Z, -2, -1, X, -1};
    expect_invalid(5, N_NODES, names5, negative, "class 'E' has parent -2");

    /* z without children: D and E moved under x */
    const int childless[N_NODES] = {Y, Y, X, X, X, -1, X, -1};
    expect_invalid(5, N_NODES, names5, childless, "group 'z' of the hierarchy has no class or group under it");

    const char *const unnamed[N_NODES] = {"A", "B", NULL, "D", "E", "x", "y", "z"};
    expect_invalid(5, N_NODES, unnamed, parent5, "class 2 of the hierarchy has no name");
    const char *const empty[N_NODES] = {"A", "B", "C", "D", "E", "x", "", "z"};
    expect_invalid(5, N_NODES, empty, parent5, "group 6 of the hierarchy has no name");

    /* A chain of 16 groups puts the leaf at depth 17, one more than allowed;
     * 15 groups are fine. */
    const char *chain[17] = {"leaf"};
    int up[17] = {1};
    char nm[16][16];
    for (int i = 1; i < 17; i++) {
        snprintf(nm[i - 1], sizeof nm[i - 1], "g%d", i);
        chain[i] = nm[i - 1];
        up[i] = i < 16 ? i + 1 : -1;
    }
    expect_invalid(1, 17, chain, up, "class 'leaf' is 17 levels deep, more than the 16 a hierarchy may have");
    vb_taxonomy *t = tu_taxonomy(1, 16, chain, (const int[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -1});
    assert_int_equal(vb_taxonomy_finish(t, NULL, NULL), VB_OK);
    assert_int_equal(t->max_depth, 16);
    assert_int_equal(t->depth[0], 16);
    assert_int_equal(vb_tax_at_level(t, 0, 1), 15);
    vb_taxonomy_free(t);

    vb_error err = {0};
    assert_null(vb_taxonomy_new(3, 2, &err));
    assert_int_equal(err.status, VB_ERR_PARAM);
    assert_null(vb_taxonomy_new(0, 2, &err));
}

static void assert_same_taxonomy(const vb_taxonomy *a, const vb_taxonomy *b)
{
    assert_int_equal(a->n_leaves, b->n_leaves);
    assert_int_equal(a->n_nodes, b->n_nodes);
    assert_int_equal(a->max_depth, b->max_depth);
    for (int i = 0; i < a->n_nodes; i++)
        assert_string_equal(a->names[i], b->names[i]);
    assert_memory_equal(a->parent, b->parent, (size_t)a->n_nodes * sizeof *a->parent);
    assert_memory_equal(a->depth, b->depth, (size_t)a->n_nodes * sizeof *a->depth);
    assert_true(vb_taxonomy_hash(a) == vb_taxonomy_hash(b));
}

static void test_copy_and_hash(void **state)
{
    vb_taxonomy *t = tax5();
    vb_error err = {0};
    vb_taxonomy *c = vb_taxonomy_copy(t, &err);
    assert_non_null(c);
    assert_same_taxonomy(t, c);
    assert_true(c->names[0] != t->names[0]); /* a deep copy */
    uint64_t h = vb_taxonomy_hash(t);
    /* a renamed node, a moved node: another hash */
    c->names[A][0] = 'Q';
    assert_true(vb_taxonomy_hash(c) != h);
    c->names[A][0] = 'A';
    assert_true(vb_taxonomy_hash(c) == h);
    c->parent[C] = Y;
    assert_true(vb_taxonomy_hash(c) != h);
    vb_taxonomy_free(c);
    /* Each name is hashed with its terminator: without it these two would
     * hash the same bytes, 'a' 01 00 00 00 'b' ff ff ff ff (names and
     * parents alternate). */
    vb_taxonomy *p = tu_taxonomy(1, 2, (const char *const[]){"a", "b"}, (const int[]){1, -1});
    vb_taxonomy *q = tu_taxonomy(1, 2, (const char *const[]){"a\x01", NULL}, (const int[]){0x62000000, -1});
    assert_true(vb_taxonomy_hash(p) != vb_taxonomy_hash(q));
    vb_taxonomy_free(p);
    vb_taxonomy_free(q);
    vb_taxonomy_free(t);
}

static vb_status load_bytes(const void *data, size_t len, vb_taxonomy **out, vb_error *err)
{
    vb_reader r;
    vb_reader_init(&r, data, len, "model.vbm");
    vb_status st = vb_taxonomy_load(&r, out, err);
    if (st == VB_OK)
        st = vb_reader_end(&r, err);
    return st;
}

static void test_save_load(void **state)
{
    vb_taxonomy *t = tax5();
    vb_writer w;
    vb_writer_init(&w);
    vb_taxonomy_save(t, &w);
    assert_int_equal(vb_writer_status(&w, NULL), VB_OK);
    vb_taxonomy *u = NULL;
    vb_error err = {0};
    assert_int_equal(load_bytes(w.buf.data, w.buf.len, &u, &err), VB_OK);
    assert_same_taxonomy(t, u);
    vb_taxonomy_free(u);

    /* Every truncation fails cleanly (an exact-size copy, so ASan sees a
     * read past the end). */
    for (size_t len = 0; len < w.buf.len; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, w.buf.data, len);
        memset(&err, 0, sizeof err);
        static vb_taxonomy sentinel;
        u = &sentinel; /* the loader must reset it */
        vb_status st = load_bytes(cut, len, &u, &err);
        if (st != VB_ERR_FORMAT)
            fail_msg("a taxonomy cut to %zu of %zu bytes gave %s", len, w.buf.len, vb_status_name(st));
        assert_null(u);
        assert_int_equal(err.status, VB_ERR_FORMAT);
        assert_memory_equal(err.msg, "model.vbm: ", 11);
        free(cut);
    }
    vb_writer_free(&w);
    vb_taxonomy_free(t);
}

/* A new writer holding the three header fields of a serialised taxonomy. */
static void write_head(vb_writer *w, uint32_t version, uint32_t n_leaves, uint32_t n_nodes)
{
    vb_writer_init(w);
    vb_write_u32(w, version);
    vb_write_u32(w, n_leaves);
    vb_write_u32(w, n_nodes);
}

/* A serialised tax5 with one parent replaced. */
static void write_tax5(vb_writer *w, int node, int32_t parent)
{
    write_head(w, 1, 5, N_NODES);
    for (int i = 0; i < N_NODES; i++) {
        vb_write_str(w, names5[i]);
        vb_write_i32(w, i == node ? parent : parent5[i]);
    }
}

/* Loading w's bytes fails with VB_ERR_FORMAT and needle; frees w. */
static void expect_corrupt(vb_writer *w, const char *needle)
{
    vb_taxonomy *u = NULL;
    vb_error err = {0};
    tu_assert_fails_with(load_bytes(w->buf.data, w->buf.len, &u, &err), err, needle);
    assert_int_equal(err.status, VB_ERR_FORMAT);
    assert_null(u);
    vb_writer_free(w);
}

static void test_load_corrupt(void **state)
{
    vb_writer w;
    write_tax5(&w, -1, 0); /* unchanged: loads */
    vb_taxonomy *u = NULL;
    assert_int_equal(load_bytes(w.buf.data, w.buf.len, &u, NULL), VB_OK);
    vb_taxonomy_free(u);
    vb_writer_free(&w);

    write_tax5(&w, C, A); /* a leaf as a parent */
    expect_corrupt(&w, "model.vbm: corrupt taxonomy node 2");
    write_tax5(&w, C, N_NODES); /* out of range */
    expect_corrupt(&w, "model.vbm: corrupt taxonomy node 2");
    write_tax5(&w, D, -5);
    expect_corrupt(&w, "model.vbm: corrupt taxonomy node 3");
    write_tax5(&w, X, Y); /* x under y under x: finish's check, reported as FORMAT */
    expect_corrupt(&w, "is its own ancestor (the hierarchy has a cycle)");

    /* Counts are checked against the input before anything is allocated. */
    write_head(&w, 1, 5, 2000000000u);
    expect_corrupt(&w, "corrupt taxonomy: 2000000000 nodes in 0 bytes");
    write_head(&w, 1, 5, 100); /* 100 nodes need 1300 bytes at least */
    for (int i = 0; i < 1299; i++)
        vb_write_u8(&w, 0);
    expect_corrupt(&w, "corrupt taxonomy: 100 nodes in 1299 bytes");
    write_head(&w, 1, 5, 4); /* fewer nodes than classes */
    expect_corrupt(&w, "corrupt field taxonomy nodes = 4");
    write_head(&w, 1, 0, 4);
    expect_corrupt(&w, "corrupt field taxonomy classes = 0");
    write_head(&w, 2, 5, 8); /* an unknown version */
    expect_corrupt(&w, "corrupt field taxonomy version = 2");

    /* A duplicate name and an empty one. */
    write_head(&w, 1, 1, 2);
    vb_write_str(&w, "a");
    vb_write_i32(&w, 1);
    vb_write_str(&w, "a");
    vb_write_i32(&w, -1);
    expect_corrupt(&w, "model.vbm: class 'a' appears twice in the hierarchy");
    write_head(&w, 1, 1, 1);
    vb_write_str(&w, "");
    vb_write_i32(&w, -1);
    vb_write_u8(&w, 0); /* so that the node count passes the size check */
    expect_corrupt(&w, "model.vbm: corrupt taxonomy node 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depths_and_levels),
        cmocka_unit_test(test_paths_and_ancestors),
        cmocka_unit_test(test_finish_errors),
        cmocka_unit_test(test_copy_and_hash),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
