/* The reference PCA eigensolver: GSL's gsl_eigen_symmv on the same
 * covariance as vb_pca_eig (a separate file because GSL's CBLAS header
 * clashes with OpenBLAS's). */
#include "internal.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <stdlib.h>

vb_status vbf_pca_eig_gsl(const float *X, size_t n, size_t d, double **mean, double **values, double **vectors,
                          vb_error *err)
{
    *mean = *values = *vectors = NULL;
    double *cov, *m, *w, *z;
    vb_status st = vb_pca_eig_prepare(X, n, d, &m, &cov, &w, &z, err);
    if (st != VB_OK)
        return st;
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(d);
    gsl_vector *ev = gsl_vector_alloc(d);
    gsl_matrix *evec = gsl_matrix_alloc(d, d);
    if (!w || !z || !ws || !ev || !evec) {
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        goto out;
    }
    gsl_matrix_view A = gsl_matrix_view_array(cov, d, d);
    if (gsl_eigen_symmv(&A.matrix, ev, evec, ws) != 0) {
        st = vb_fail(err, VB_ERR_NUMERIC, "pca: gsl_eigen_symmv failed");
        goto out;
    }
    gsl_eigen_symmv_sort(ev, evec, GSL_EIGEN_SORT_VAL_ASC);
    for (size_t k = 0; k < d; k++) {
        w[k] = gsl_vector_get(ev, k);
        for (size_t j = 0; j < d; j++)
            z[k * d + j] = gsl_matrix_get(evec, j, k);
    }
    vb_pca_finish(w, z, d);
    *mean = m;
    *values = w;
    *vectors = z;
    m = w = z = NULL;
out:
    if (ws)
        gsl_eigen_symmv_free(ws);
    if (ev)
        gsl_vector_free(ev);
    if (evec)
        gsl_matrix_free(evec);
    free(cov);
    free(m);
    free(w);
    free(z);
    return st;
}
