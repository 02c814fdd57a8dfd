/* The job plan of an experiment: every (pipeline, fold) run as a job,
 * grouped by what they share, with an estimate of their cost. One plan
 * serves every way of running an experiment: one process (which needs no
 * plan), Slurm shards (vb_plan_shard: disjoint, balanced slices) and MPI
 * ranks (jobs handed out longest first).
 *
 * A group is the jobs of one fold whose pipelines have the same
 * preprocessing and extractors: they share one feature extraction, so a
 * group always runs whole in one process and features are never extracted
 * twice. Groups are ordered by estimated cost, the longest first (ties by
 * fold, then by the first pipeline's place in the spec), so the order, and
 * with it every shard, depends only on the spec and the split.
 *
 * The cost is a rough estimate in arbitrary units from the training-set
 * size, the extractors and the classifier with its parameters (epochs,
 * trees, grid points, inner folds); it only orders and balances work, it
 * never changes a result. */
#ifndef VISBENCH_PLAN_H
#define VISBENCH_PLAN_H

#include "visbench/pipeline.h"

typedef struct vb_job {
    size_t pipeline; /* index into spec->pipelines */
    size_t fold;     /* index into split->folds */
    double cost;     /* the job's own training and prediction */
} vb_job;

typedef struct vb_job_group {
    size_t fold;
    size_t n_jobs;
    vb_job *jobs;  /* in spec order (the order one process runs them) */
    double cost;   /* the shared extraction plus every job */
} vb_job_group;

typedef struct vb_plan {
    size_t n_pipelines, n_folds; /* of the spec and split */
    size_t n_jobs, n_groups;
    vb_job_group *groups;        /* the longest first */
    double total_cost;
} vb_plan;

/* The plan of every pipeline (only one when only is set) over every fold. */
vb_status vb_plan_make(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, const char *only,
                       vb_plan **out, vb_error *err);
void vb_plan_free(vb_plan *p);

/* Shard i (0-based) of n: groups dealt longest first, each to the shard
 * with the least estimated cost so far (the lowest index on ties). Sets
 * mask[fold * n_pipelines + pipeline] to 1 for the jobs of shard i, 0 for
 * the rest (mask holds n_folds * n_pipelines bytes); *cost (if not NULL)
 * is the shard's estimated cost. */
vb_status vb_plan_shard(const vb_plan *p, size_t i, size_t n, unsigned char *mask, double *cost, vb_error *err);

/* Parses "I/N" (1-based I, as the user writes it; 1 <= I <= N) into a
 * 0-based index and a count. 0 on success, -1 when malformed. */
int vb_shard_parse(const char *text, size_t *index, size_t *count);

#endif
