/* The one RNG: GSL's MT19937 seeded from a 64-bit seed, plus seed derivation
 * so that independent streams (per pipeline, fold, tree, thread) do not
 * depend on the order in which work happens. */
#include "visbench/core.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>

struct vb_rng {
    gsl_rng *g;
};

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

vb_rng *vb_rng_new(uint64_t seed)
{
    vb_rng *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r->g) {
        free(r);
        return NULL;
    }
    /* MT19937 takes an unsigned long; fold the 64-bit seed so that seeds
     * differing only in the high bits still give different streams. GSL
     * maps seed 0 to its default seed, so avoid it. */
    uint64_t s = splitmix64(seed);
    unsigned long ul = (unsigned long)(s ^ (s >> 32)) & 0xffffffffUL;
    gsl_rng_set(r->g, ul ? ul : 5489UL);
    return r;
}

void vb_rng_free(vb_rng *rng)
{
    if (!rng)
        return;
    gsl_rng_free(rng->g);
    free(rng);
}

uint32_t vb_rng_u32(vb_rng *rng) { return (uint32_t)gsl_rng_get(rng->g); }

uint64_t vb_rng_u64(vb_rng *rng)
{
    uint64_t hi = vb_rng_u32(rng);
    return (hi << 32) | vb_rng_u32(rng);
}

double vb_rng_uniform(vb_rng *rng) { return gsl_rng_uniform(rng->g); }

size_t vb_rng_below(vb_rng *rng, size_t n)
{
    if (n <= 1)
        return 0;
    if (n <= 0xffffffffUL)
        return (size_t)gsl_rng_uniform_int(rng->g, (unsigned long)n);
    /* Rejection sampling for very large n. */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, v;
    do
        v = vb_rng_u64(rng);
    while (v >= lim);
    return (size_t)(v % n);
}

double vb_rng_gauss(vb_rng *rng, double sigma) { return gsl_ran_gaussian_ziggurat(rng->g, sigma); }

void vb_rng_shuffle(vb_rng *rng, size_t *a, size_t n)
{
    /* Fisher-Yates with our own draws so the result does not depend on
     * sizeof(size_t) handling inside gsl_ran_shuffle. */
    for (size_t i = n; i > 1; i--) {
        size_t j = vb_rng_below(rng, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

uint64_t vb_hash64(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    if (h == 0)
        h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t vb_seed_derive(uint64_t seed, const char *label, uint64_t index)
{
    uint64_t h = vb_hash64(label ? label : "", label ? strlen(label) : 0, 0);
    return splitmix64(splitmix64(seed ^ h) + index);
}

vb_status vb_stratified_folds(const int *y, size_t n, int n_classes, int k, uint64_t seed, int *fold, vb_error *err)
{
    if (k < 1)
        return vb_fail(err, VB_ERR_PARAM, "stratified folds: k must be >= 1, not %d", k);
    size_t *order = vb_malloc(n ? n : 1, sizeof *order, err);
    vb_rng *rng = vb_rng_new(seed);
    if (!order || !rng) {
        free(order);
        vb_rng_free(rng);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    vb_rng_shuffle(rng, order, n);
    size_t next = 0;
    for (int c = 0; c < n_classes; c++)
        for (size_t t = 0; t < n; t++)
            if (y[order[t]] == c)
                fold[order[t]] = (int)(next++ % (size_t)k);
    free(order);
    vb_rng_free(rng);
    return VB_OK;
}
