/* Model files: whole trained pipelines saved, loaded and used to predict.
 * Training is the engine's (src/pipeline/fit.c); this file only writes,
 * reads and applies what it built. */
#include "visbench/model.h"
#include "visbench/cnn.h"
#include "visbench/ensemble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
enum {
    TAG_HEAD = TAG('H', 'E', 'A', 'D'),
    TAG_PREP = TAG('P', 'R', 'E', 'P'),
    TAG_EXTR = TAG('E', 'X', 'T', 'R'),
    TAG_POST = TAG('P', 'O', 'S', 'T'),
    TAG_CLSF = TAG('C', 'L', 'S', 'F'),
    TAG_INFO = TAG('I', 'N', 'F', 'O'),
    TAG_TASK = TAG('T', 'A', 'S', 'K'),
    TAG_ENSM = TAG('E', 'N', 'S', 'M'),
};
/* Format 1: single-label models (what older readers read). Format 2: a
 * TASK section (multilabel, hierarchical with its taxonomy), which a
 * format-1 reader refuses as newer. */
#define FORMAT_SINGLE 1
#define FORMAT_TASK 2
static const char magic[8] = {'V', 'B', 'M', 'O', 'D', 'E', 'L', 0};

void vb_model_free(vb_model *m)
{
    if (!m)
        return;
    vb_featpipe_free(m->fp);
    vb_postchain_free(m->pc);
    vb_classifier_free(m->clf);
    for (int k = 0; m->classes && k < m->n_classes; k++)
        free(m->classes[k]);
    free(m->classes);
    free(m->spec_name);
    free(m->pipeline);
    free(m->dataset);
    free(m->created);
    free(m->description);
    free(m->info);
    free(m->written_by);
    vb_taxonomy_free(m->tax);
    for (size_t i = 0; m->members && i < m->n_members; i++)
        vb_model_free(m->members[i]);
    free(m->members);
    free(m->weights);
    vb_classifier_free(m->meta);
    free(m);
}

int vb_model_n_classes(const vb_model *m) { return m->n_classes; }

const char *vb_model_class_name(const vb_model *m, int k)
{
    return k >= 0 && k < m->n_classes ? m->classes[k] : NULL;
}

int vb_model_has_probabilities(const vb_model *m)
{
    if (m->n_members)
        return m->ens_method == VB_ENS_SOFT || (m->meta && vb_classifier_has_proba(m->meta));
    return vb_classifier_has_proba(m->clf);
}

const char *vb_model_describe(const vb_model *m) { return m->description ? m->description : ""; }

vb_status vb_model_describe_build(vb_model *m, vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_buf_printf(&b, "%s: ", m->pipeline ? m->pipeline : "model");
    if (m->n_members) {
        vb_buf_printf(&b, "ensemble (%s) of", vb_ens_method_name(m->ens_method));
        for (size_t i = 0; i < m->n_members; i++)
            vb_buf_printf(&b, "%s %s", i ? " +" : "", m->members[i]->pipeline ? m->members[i]->pipeline : "model");
        if (m->meta)
            vb_buf_printf(&b, " -> %s", m->meta->vt->info.name);
        vb_buf_printf(&b, ", %d class%s", m->n_classes, m->n_classes == 1 ? "" : "es");
    } else {
        vb_featpipe_describe(m->fp, &b);
        for (size_t i = 0; i < m->pc->n; i++)
            vb_buf_printf(&b, " -> %s", m->pc->post[i]->vt->info.name);
        vb_buf_printf(&b, " -> %s, %d class%s", m->clf->vt->info.name, m->n_classes, m->n_classes == 1 ? "" : "es");
    }
    if (b.failed) {
        vb_buf_free(&b);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    free(m->description);
    m->description = b.data;
    return VB_OK;
}

vb_status vb_model_info_add(vb_model *m, const char *members, vb_error *err)
{
    size_t n = m->info ? strlen(m->info) : 0;
    char *grown = n >= 2 ? vb_asprintf("%.*s, %s}", (int)(n - 1), m->info, members) : vb_asprintf("{%s}", members);
    if (!grown)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    free(m->info);
    m->info = grown;
    return VB_OK;
}

/* ---- writing ----------------------------------------------------------- */

/* A plug-in's fitted state as a nested byte string. */
static vb_status write_state(vb_writer *w, vb_status (*save)(const void *, vb_writer *, vb_error *), const void *state,
                             vb_error *err)
{
    vb_writer inner;
    vb_writer_init(&inner);
    vb_status st = save ? save(state, &inner, err) : VB_OK;
    if (st == VB_OK)
        st = vb_writer_status(&inner, err);
    if (st == VB_OK) {
        vb_write_u64(w, inner.buf.len);
        vb_write_bytes(w, inner.buf.data, inner.buf.len);
    }
    vb_writer_free(&inner);
    return st;
}

static void write_params(vb_writer *w, const vb_params *p)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_params_to_yaml(p, &b);
    vb_write_str(w, b.data ? b.data : "{}");
    if (b.failed)
        w->buf.failed = 1;
    vb_buf_free(&b);
}

static vb_status classifier_state(const void *state, vb_writer *w, vb_error *err)
{
    return vb_classifier_save(state, w, err);
}

/* The file around n sections: magic, format, version, the section table
 * with each section's CRC, the sections, the CRC of it all. */
static vb_status frame(const vb_writer *sec, const uint32_t *tags, int n_sec, uint32_t format, vb_buf *out,
                       vb_error *err)
{
    vb_status st = VB_OK;
    for (int i = 0; i < n_sec && st == VB_OK; i++)
        st = vb_writer_status(&sec[i], err);
    if (st != VB_OK)
        return st;
    vb_writer f;
    vb_writer_init(&f);
    vb_write_bytes(&f, magic, 8);
    vb_write_u32(&f, format);
    vb_write_str(&f, VB_VERSION);
    vb_write_u32(&f, (uint32_t)n_sec);
    size_t table = f.buf.len, offset = table + (size_t)n_sec * (4 + 8 + 8 + 4);
    for (int i = 0; i < n_sec; i++) {
        vb_write_u32(&f, tags[i]);
        vb_write_u64(&f, offset);
        vb_write_u64(&f, sec[i].buf.len);
        vb_write_u32(&f, vb_crc32(sec[i].buf.data, sec[i].buf.len, 0));
        offset += sec[i].buf.len;
    }
    for (int i = 0; i < n_sec; i++)
        vb_write_bytes(&f, sec[i].buf.data, sec[i].buf.len);
    vb_write_u32(&f, vb_crc32(f.buf.data, f.buf.len, 0));
    st = vb_writer_status(&f, err);
    if (st == VB_OK)
        *out = f.buf;
    else
        vb_writer_free(&f);
    return st;
}

static void write_head(vb_writer *w, const vb_model *m)
{
    vb_write_u32(w, (uint32_t)m->n_classes);
    for (int k = 0; k < m->n_classes; k++)
        vb_write_str(w, m->classes[k]);
    vb_write_str(w, m->spec_name);
    vb_write_str(w, m->pipeline);
    vb_write_str(w, m->dataset);
    vb_write_str(w, m->created);
    vb_write_i32(w, m->in.w);
    vb_write_i32(w, m->in.h);
    vb_write_i32(w, m->in.c);
}

/* An ensemble: HEAD, ENSM (each member a whole model file), INFO. */
static vb_status serialize_ensemble(const vb_model *m, vb_buf *out, vb_error *err)
{
    vb_writer sec[3];
    uint32_t tags[3] = {TAG_HEAD, TAG_ENSM, TAG_INFO};
    for (int i = 0; i < 3; i++)
        vb_writer_init(&sec[i]);
    write_head(&sec[0], m);
    vb_writer *w = &sec[1];
    vb_write_u32(w, (uint32_t)m->ens_method);
    vb_write_u32(w, (uint32_t)m->n_members);
    vb_status st = VB_OK;
    for (size_t i = 0; i < m->n_members && st == VB_OK; i++) {
        vb_buf b;
        vb_buf_init(&b);
        if ((st = vb_model_serialize(m->members[i], &b, err)) == VB_OK) {
            vb_write_u64(w, b.len);
            vb_write_bytes(w, b.data, b.len);
        }
        vb_buf_free(&b);
    }
    vb_write_u8(w, m->weights != NULL);
    if (m->weights)
        vb_write_f64s(w, m->weights, m->n_members);
    vb_write_u8(w, m->meta != NULL);
    if (m->meta && st == VB_OK) {
        vb_write_str(w, m->meta->vt->info.name);
        write_params(w, &m->meta->params);
        st = write_state(w, classifier_state, m->meta, err);
    }
    if (m->info)
        vb_write_str(&sec[2], m->info);
    if (st == VB_OK)
        st = frame(sec, tags, m->info ? 3 : 2, VB_MODEL_FORMAT, out, err);
    for (int i = 0; i < 3; i++)
        vb_writer_free(&sec[i]);
    return st;
}

vb_status vb_model_serialize(const vb_model *m, vb_buf *out, vb_error *err)
{
    if (m->n_members)
        return serialize_ensemble(m, out, err);
    vb_writer sec[7];
    uint32_t tags[7] = {TAG_HEAD, TAG_PREP, TAG_EXTR, TAG_POST, TAG_CLSF, TAG_INFO, TAG_TASK};
    int n_sec = m->info ? 6 : 5, with_task = m->task != VB_TASK_SINGLE;
    for (int i = 0; i < 7; i++)
        vb_writer_init(&sec[i]);
    vb_status st = VB_OK;
    /* HEAD */
    vb_writer *w = &sec[0];
    write_head(w, m);
    /* PREP */
    w = &sec[1];
    vb_write_u32(w, (uint32_t)m->fp->prep.n);
    for (size_t i = 0; i < m->fp->prep.n; i++) {
        vb_write_str(w, m->fp->prep.vt[i]->info.name);
        write_params(w, &m->fp->prep.params[i]);
    }
    /* EXTR */
    w = &sec[2];
    vb_write_u32(w, (uint32_t)m->fp->n_ext);
    for (size_t i = 0; i < m->fp->n_ext && st == VB_OK; i++) {
        const vb_extractor *x = m->fp->ext[i];
        vb_write_str(w, x->vt->info.name);
        write_params(w, &x->params);
        vb_write_u64(w, x->dim);
        st = write_state(w, x->vt->save, x->state, err);
    }
    /* POST */
    w = &sec[3];
    vb_write_u32(w, (uint32_t)m->pc->n);
    for (size_t i = 0; i < m->pc->n && st == VB_OK; i++) {
        const vb_post *p = m->pc->post[i];
        vb_write_str(w, p->vt->info.name);
        write_params(w, &p->params);
        vb_write_u64(w, p->dim_in);
        vb_write_u64(w, p->dim);
        st = write_state(w, p->vt->save, p->state, err);
    }
    /* CLSF */
    w = &sec[4];
    vb_write_str(w, m->clf->vt->info.name);
    write_params(w, &m->clf->params);
    if (st == VB_OK)
        st = write_state(w, classifier_state, m->clf, err);
    /* INFO */
    if (m->info)
        vb_write_str(&sec[5], m->info);
    /* TASK: the task kind, and the taxonomy of a hierarchical model */
    if (with_task) {
        w = &sec[n_sec];
        tags[n_sec++] = TAG_TASK;
        vb_write_u32(w, (uint32_t)m->task);
        vb_write_u8(w, m->tax != NULL);
        if (m->tax)
            vb_taxonomy_save(m->tax, w);
    }
    if (st == VB_OK)
        st = frame(sec, tags, n_sec, with_task ? FORMAT_TASK : FORMAT_SINGLE, out, err);
    for (int i = 0; i < 7; i++)
        vb_writer_free(&sec[i]);
    return st;
}

vb_status vb_model_save(const vb_model *m, const char *path, vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_status st = vb_model_serialize(m, &b, err);
    if (st == VB_OK)
        st = vb_file_write_atomic(path, b.data, b.len, err);
    vb_buf_free(&b);
    return st;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct section {
    uint32_t tag;
    const uint8_t *data;
    size_t len;
} section;

/* Reads a nested state string and hands it to load(). */
static vb_status read_state(vb_reader *r, vb_status (*load)(void *, vb_reader *, vb_error *), void *state,
                            const char *what, vb_error *err)
{
    uint64_t len;
    vb_status st = vb_read_u64(r, &len, err);
    if (st != VB_OK)
        return st;
    if (len > vb_reader_left(r))
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt state length %llu of %s", r->what, (unsigned long long)len,
                       what);
    vb_reader inner;
    vb_reader_init(&inner, r->p + r->pos, (size_t)len, r->what);
    r->pos += (size_t)len;
    if (!load) {
        if (len)
            return vb_fail(err, VB_ERR_FORMAT, "%s: %s has no state to load", r->what, what);
        return VB_OK;
    }
    if ((st = load(state, &inner, err)) != VB_OK)
        return st;
    return vb_reader_end(&inner, err);
}

static vb_status classifier_load(void *state, vb_reader *r, vb_error *err) { return vb_classifier_load(state, r, err); }

/* Parses "name" + canonical params of a plug-in from a registry. */
static vb_status read_plugin(vb_reader *r, const void *const *registry, size_t n, const char *kind, const void **vt,
                             vb_params *params, vb_error *err)
{
    char *name = NULL, *yaml = NULL;
    vb_status st = vb_read_str(r, &name, err);
    if (st == VB_OK)
        st = vb_read_str(r, &yaml, err);
    if (st == VB_OK) {
        *vt = name ? vb_plugin_find(registry, n, name) : NULL;
        if (!*vt)
            st = vb_fail(err, VB_ERR_FORMAT, "%s: unknown %s '%s' (written by another visbench version?)", r->what,
                         kind, name ? name : "");
        else
            st = vb_params_parse_text(params, (const vb_plugin *)*vt, yaml ? yaml : "{}", err);
        if (st != VB_OK && st != VB_ERR_NOMEM && *vt)
            vb_error_prefix(err, "%s: corrupt %s parameters", r->what, kind);
    }
    free(name);
    free(yaml);
    return st;
}

/* A plug-in refused what the file holds (its own checks of the stored
 * parameters say "cnn:1:49: unknown layer ..."): the file is corrupt, and
 * the message names it. */
static vb_status corrupt(vb_status st, const char *what, const char *kind, vb_error *err)
{
    if (st == VB_OK || st == VB_ERR_NOMEM || !err)
        return st;
    vb_error_prefix(err, "%s: corrupt %s", what, kind);
    err->status = VB_ERR_FORMAT;
    return VB_ERR_FORMAT;
}

static vb_status parse_head(vb_model *m, const section *s, const char *name, vb_error *err)
{
    vb_reader r;
    vb_status st = VB_OK;
    char what[300];
    snprintf(what, sizeof what, "%s (HEAD)", name);
    vb_reader_init(&r, s[0].data, s[0].len, what);
    uint32_t k;
    /* one class: a clustering of data without labels (the classifier's own
     * load refuses one class for anything else) */
    if ((st = vb_read_u32_range(&r, &k, 1, 1u << 16, "class count", err)) != VB_OK)
        return st;
    if (k > vb_reader_left(&r) / 8)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt class count %u", what, k);
    if (!(m->classes = vb_calloc(k, sizeof *m->classes, err)))
        return VB_ERR_NOMEM;
    m->n_classes = (int)k;
    for (uint32_t i = 0; i < k && st == VB_OK; i++)
        if ((st = vb_read_str(&r, &m->classes[i], err)) == VB_OK && !m->classes[i])
            st = vb_fail(err, VB_ERR_FORMAT, "%s: empty class name", what);
    int32_t w, h, c;
    if (st == VB_OK && ((st = vb_read_str(&r, &m->spec_name, err)) || (st = vb_read_str(&r, &m->pipeline, err)) ||
                        (st = vb_read_str(&r, &m->dataset, err)) || (st = vb_read_str(&r, &m->created, err)) ||
                        (st = vb_read_i32(&r, &w, err)) || (st = vb_read_i32(&r, &h, err)) ||
                        (st = vb_read_i32(&r, &c, err)) || (st = vb_reader_end(&r, err))))
        return st;
    if (st != VB_OK)
        return st;
    if (w < 0 || h < 0 || w > VB_IMAGE_MAX_SIDE || h > VB_IMAGE_MAX_SIDE || (c != 1 && c != 3))
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt input shape %dx%dx%d", what, w, h, c);
    m->in = (vb_shape){w, h, c};
    return VB_OK;
}

static vb_status parse_sections(vb_model *m, const section *s, const char *name, vb_error *err)
{
    vb_reader r;
    vb_status st = parse_head(m, s, name, err);
    char what[300];
    if (st != VB_OK)
        return st;

    /* PREP and EXTR rebuild a pipeline description, then the extractors. */
    vb_spec_pipeline sp;
    memset(&sp, 0, sizeof sp);
    sp.name = m->pipeline ? m->pipeline : "model";
    vb_prep_chain_init(&sp.prep);
    size_t n_all;
    const void *const *preps = (const void *const *)vb_prep_registry(&n_all);
    snprintf(what, sizeof what, "%s (PREP)", name);
    vb_reader_init(&r, s[1].data, s[1].len, what);
    uint32_t n;
    st = vb_read_u32_range(&r, &n, 0, 1024, "op count", err);
    for (uint32_t i = 0; i < n && st == VB_OK; i++) {
        const void *vt;
        vb_params p;
        if ((st = read_plugin(&r, preps, n_all, "preprocess op", &vt, &p, err)) == VB_OK) {
            st = corrupt(vb_prep_chain_add(&sp.prep, vt, &p, err), what, "preprocess op", err);
            vb_params_free(&p);
        }
    }
    if (st == VB_OK)
        st = vb_reader_end(&r, err);

    const void *const *exts = (const void *const *)vb_extractor_registry(&n_all);
    char ewhat[300];
    snprintf(ewhat, sizeof ewhat, "%s (EXTR)", name);
    vb_reader re;
    vb_reader_init(&re, s[2].data, s[2].len, ewhat);
    uint32_t n_ext = 0;
    if (st == VB_OK && (st = vb_read_u32_range(&re, &n_ext, 1, 256, "extractor count", err)) == VB_OK) {
        sp.ext = vb_calloc(n_ext, sizeof *sp.ext, err);
        sp.ext_params = vb_calloc(n_ext, sizeof *sp.ext_params, err);
        if (!sp.ext || !sp.ext_params)
            st = VB_ERR_NOMEM;
    }
    /* Extractor states follow each extractor's parameters; build the
     * pipeline first (which needs every extractor's parameters), so
     * remember where each state starts. */
    size_t *state_at = st == VB_OK ? vb_calloc(n_ext ? n_ext : 1, sizeof *state_at, err) : NULL;
    uint64_t *dims = st == VB_OK ? vb_calloc(n_ext ? n_ext : 1, sizeof *dims, err) : NULL;
    /* each state by itself, for the extractors built from it alone */
    vb_reader *states = st == VB_OK ? vb_calloc(n_ext ? n_ext : 1, sizeof *states, err) : NULL;
    if (st == VB_OK && (!state_at || !dims || !states))
        st = VB_ERR_NOMEM;
    for (uint32_t i = 0; i < n_ext && st == VB_OK; i++) {
        const void *vt;
        if ((st = read_plugin(&re, exts, n_all, "feature extractor", &vt, &sp.ext_params[i], err)) != VB_OK)
            break;
        sp.ext[i] = vt;
        sp.n_ext = i + 1;
        uint64_t len;
        if ((st = vb_read_u64(&re, &dims[i], err)) || (st = vb_read_u64(&re, &len, err)))
            break;
        if (len > vb_reader_left(&re)) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt state length", ewhat);
            break;
        }
        state_at[i] = re.pos - 8;
        vb_reader_init(&states[i], re.p + re.pos, (size_t)len, ewhat);
        re.pos += (size_t)len;
    }
    if (st == VB_OK)
        st = vb_reader_end(&re, err);
    if (st == VB_OK)
        st = corrupt(vb_featpipe_new_saved(&sp, m->in, states, &m->fp, err), name, "feature pipeline", err);
    for (uint32_t i = 0; i < n_ext && st == VB_OK; i++) {
        vb_extractor *x = m->fp->ext[i];
        if (x->dim != dims[i]) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: extractor %s gives %zu features, the file says %llu", ewhat,
                         x->vt->info.name, x->dim, (unsigned long long)dims[i]);
            break;
        }
        if (x->vt->restore) { /* built from its state: all of it read */
            st = vb_reader_end(&states[i], err);
            continue;
        }
        re.pos = state_at[i];
        st = read_state(&re, x->vt->load, x->state, x->vt->info.name, err);
    }
    free(state_at);
    free(dims);
    free(states);

    /* POST */
    const void *const *posts = (const void *const *)vb_post_registry(&n_all);
    char pwhat[300];
    snprintf(pwhat, sizeof pwhat, "%s (POST)", name);
    vb_reader_init(&r, s[3].data, s[3].len, pwhat);
    uint32_t n_post = 0;
    if (st == VB_OK && (st = vb_read_u32_range(&r, &n_post, 0, 256, "step count", err)) == VB_OK) {
        sp.post = vb_calloc(n_post ? n_post : 1, sizeof *sp.post, err);
        sp.post_params = vb_calloc(n_post ? n_post : 1, sizeof *sp.post_params, err);
        if (!sp.post || !sp.post_params)
            st = VB_ERR_NOMEM;
    }
    if (st == VB_OK)
        st = (m->pc = vb_calloc(1, sizeof *m->pc, err)) ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        m->pc->dim_in = m->pc->dim = m->fp->dim;
        if (!(m->pc->post = vb_calloc(n_post ? n_post : 1, sizeof *m->pc->post, err)))
            st = VB_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n_post && st == VB_OK; i++) {
        const void *vt;
        if ((st = read_plugin(&r, posts, n_all, "postprocess step", &vt, &sp.post_params[i], err)) != VB_OK)
            break;
        sp.post[i] = vt;
        sp.n_post = i + 1;
        uint64_t din, dout;
        if ((st = vb_read_u64(&r, &din, err)) || (st = vb_read_u64(&r, &dout, err)))
            break;
        if (din != m->pc->dim) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: step %u expects %llu features, gets %zu", pwhat, i,
                         (unsigned long long)din, m->pc->dim);
            break;
        }
        st = corrupt(vb_post_new(vt, &sp.post_params[i], m->pc->dim, &m->pc->post[i], err), pwhat, "postprocess step",
                     err);
        if (st != VB_OK)
            break;
        m->pc->n = i + 1;
        vb_post *post = m->pc->post[i];
        if ((st = read_state(&r, post->vt->load, post->state, post->vt->info.name, err)) != VB_OK)
            break;
        /* Some steps know their output size only once fitted (pca by variance). */
        post->dim = post->vt->dim(post->state);
        if (post->dim != dout) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: step %u gives %zu features, the file says %llu", pwhat, i, post->dim,
                         (unsigned long long)dout);
            break;
        }
        m->pc->dim = post->dim;
    }
    if (st == VB_OK)
        st = vb_reader_end(&r, err);

    /* CLSF */
    const void *const *clfs = (const void *const *)vb_classifier_registry(&n_all);
    char cwhat[300];
    snprintf(cwhat, sizeof cwhat, "%s (CLSF)", name);
    vb_reader_init(&r, s[4].data, s[4].len, cwhat);
    const void *cvt = NULL;
    vb_params cp;
    memset(&cp, 0, sizeof cp);
    if (st == VB_OK)
        st = read_plugin(&r, clfs, n_all, "classifier", &cvt, &cp, err);
    if (st == VB_OK)
        st = corrupt(vb_classifier_new(cvt, &cp, &m->clf, err), cwhat, "classifier", err);
    if (st == VB_OK)
        st = read_state(&r, classifier_load, m->clf, ((const vb_plugin *)cvt)->name, err);
    if (st == VB_OK)
        st = vb_reader_end(&r, err);
    if (st == VB_OK && (m->clf->d != m->pc->dim || m->clf->n_classes != m->n_classes))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: the classifier expects %zu features and %d classes, the pipeline gives "
                                         "%zu and %d",
                     cwhat, m->clf->d, m->clf->n_classes, m->pc->dim, m->n_classes);
    vb_params_free(&cp);

    vb_prep_chain_free(&sp.prep);
    for (size_t i = 0; i < sp.n_ext; i++)
        vb_params_free(&sp.ext_params[i]);
    free(sp.ext);
    free(sp.ext_params);
    for (size_t i = 0; i < sp.n_post; i++)
        vb_params_free(&sp.post_params[i]);
    free(sp.post);
    free(sp.post_params);
    if (st == VB_OK)
        st = vb_model_describe_build(m, err);
    return st;
}

/* TASK: the task kind (a kind this visbench does not know is refused, with
 * what to do) and the taxonomy. */
static vb_status parse_task(vb_model *m, const section *sec, const char *name, vb_error *err)
{
    char what[300];
    snprintf(what, sizeof what, "%s (TASK)", name);
    vb_reader r;
    vb_reader_init(&r, sec->data, sec->len, what);
    uint32_t kind;
    uint8_t has_tax;
    vb_status st = vb_read_u32(&r, &kind, err);
    if (st != VB_OK)
        return st;
    if (kind > VB_TASK_HIER)
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: the model is for a task (kind %u) newer than this visbench knows (single-label, "
                       "multilabel, hierarchical); upgrade visbench to use it",
                       name, kind);
    m->task = (vb_task)kind;
    if ((st = vb_read_u8(&r, &has_tax, err)) != VB_OK)
        return st;
    if (has_tax > 1 || (has_tax != 0) != (m->task == VB_TASK_HIER))
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt task section", what);
    if (has_tax && (st = vb_taxonomy_load(&r, &m->tax, err)) != VB_OK)
        return st;
    return vb_reader_end(&r, err);
}

/* ENSM: the members (whole model files of their own), weights, meta. */
static vb_status parse_ensemble(vb_model *m, const section *sec, const char *name, vb_error *err)
{
    char what[300];
    snprintf(what, sizeof what, "%s (ENSM)", name);
    vb_reader r;
    vb_reader_init(&r, sec->data, sec->len, what);
    uint32_t method, n;
    vb_status st = vb_read_u32_range(&r, &method, VB_ENS_SOFT, VB_ENS_STACK, "ensemble method", err);
    if (st == VB_OK)
        st = vb_read_u32_range(&r, &n, 2, 64, "member count", err);
    if (st != VB_OK)
        return st;
    m->ens_method = (int)method;
    if (!(m->members = vb_calloc(n, sizeof *m->members, err)))
        return VB_ERR_NOMEM;
    for (uint32_t i = 0; i < n && st == VB_OK; i++) {
        uint64_t len;
        if ((st = vb_read_u64(&r, &len, err)) != VB_OK)
            break;
        if (len > vb_reader_left(&r)) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: member %u lies outside the section", what, i + 1);
            break;
        }
        char mwhat[340];
        snprintf(mwhat, sizeof mwhat, "%s (member %u)", name, i + 1);
        st = vb_model_parse(r.p + r.pos, (size_t)len, mwhat, &m->members[i], err);
        r.pos += (size_t)len;
        if (st != VB_OK)
            break;
        m->n_members = i + 1;
        const vb_model *x = m->members[i];
        if (x->n_members || x->task != VB_TASK_SINGLE || x->n_classes != m->n_classes)
            st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt ensemble: member %u is not a single-label model of its %d "
                                             "classes",
                         what, i + 1, m->n_classes);
        for (int k = 0; st == VB_OK && k < m->n_classes; k++)
            if (strcmp(x->classes[k], m->classes[k]) != 0)
                st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt ensemble: member %u's class %d is '%s', not '%s'", what,
                             i + 1, k, x->classes[k], m->classes[k]);
    }
    uint8_t has_w = 0, has_meta = 0;
    if (st == VB_OK && (st = vb_read_u8(&r, &has_w, err)) == VB_OK && has_w) {
        if (!(m->weights = vb_calloc(n, sizeof *m->weights, err)))
            return VB_ERR_NOMEM;
        st = vb_read_f64s_into(&r, m->weights, n, err);
    }
    if (st == VB_OK)
        st = vb_read_u8(&r, &has_meta, err);
    if (st == VB_OK && (has_meta != 0) != (method == VB_ENS_STACK))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt ensemble: %s a meta-classifier", what,
                     has_meta ? "voting with" : "stacking without");
    if (st == VB_OK && has_meta) {
        size_t n_all;
        const void *const *clfs = (const void *const *)vb_classifier_registry(&n_all);
        const void *vt;
        vb_params p;
        if ((st = read_plugin(&r, clfs, n_all, "classifier", &vt, &p, err)) == VB_OK) {
            st = corrupt(vb_classifier_new(vt, &p, &m->meta, err), what, "meta-classifier", err);
            vb_params_free(&p);
        }
        if (st == VB_OK)
            st = read_state(&r, classifier_load, m->meta, "the meta-classifier", err);
        size_t d = 0;
        int k = 0;
        if (st == VB_OK && m->meta->vt->dims)
            m->meta->vt->dims(m->meta->state, &d, &k);
        if (st == VB_OK && (d != (size_t)n * (size_t)m->n_classes || k != m->n_classes))
            st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt ensemble: the meta-classifier reads %zu scores of %d classes",
                         what, d, k);
    }
    if (st == VB_OK)
        st = vb_reader_end(&r, err);
    return st;
}

vb_status vb_model_parse(const void *data, size_t len, const char *name, vb_model **out, vb_error *err)
{
    *out = NULL;
    vb_model_install_hooks(); /* a model may hold a cnn extractor, which parses the model it runs */
    const uint8_t *p = data;
    if (len < 8 || memcmp(p, magic, 8) != 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: not a visbench model (no VBMODEL header)", name);
    if (len < 8 + 4 + 8 + 4 + 4)
        return vb_fail(err, VB_ERR_FORMAT, "%s: truncated model file (%zu bytes)", name, len);
    uint32_t crc = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 | (uint32_t)p[len - 2] << 16 |
                   (uint32_t)p[len - 1] << 24;
    vb_reader r;
    vb_reader_init(&r, data, len - 4, name);
    r.pos = 8;
    uint32_t version;
    vb_status st = vb_read_u32(&r, &version, err);
    if (st != VB_OK)
        return st;
    if (version > VB_MODEL_FORMAT)
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: model format %u is newer than this visbench reads (%d); upgrade visbench", name, version,
                       VB_MODEL_FORMAT);
    if (version == 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt model (format version 0)", name);
    if (vb_crc32(data, len - 4, 0) != crc)
        return vb_fail(err, VB_ERR_FORMAT, "%s: checksum mismatch: the model file is truncated or corrupted", name);
    char *ver = NULL;
    uint32_t n_sec;
    if ((st = vb_read_str(&r, &ver, err)) != VB_OK)
        return st;
    if ((st = vb_read_u32_range(&r, &n_sec, 2, 64, "section count", err)) != VB_OK) {
        free(ver);
        return st;
    }
    /* five required sections (an ensemble: HEAD and ENSM), then the optional INFO */
    static const uint32_t want[8] = {TAG_HEAD, TAG_PREP, TAG_EXTR, TAG_POST, TAG_CLSF, TAG_INFO, TAG_TASK, TAG_ENSM};
    section s[8];
    memset(s, 0, sizeof s);
    int seen[8] = {0};
    for (uint32_t i = 0; i < n_sec; i++) {
        uint32_t tag, scrc;
        uint64_t off, slen;
        if ((st = vb_read_u32(&r, &tag, err)) || (st = vb_read_u64(&r, &off, err)) ||
            (st = vb_read_u64(&r, &slen, err)) || (st = vb_read_u32(&r, &scrc, err)))
            break;
        if (off > len - 4 || slen > len - 4 - off) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: section %u lies outside the file", name, i);
            break;
        }
        if (vb_crc32(p + off, (size_t)slen, 0) != scrc) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: section %u checksum mismatch", name, i);
            break;
        }
        for (int j = 0; j < 8 && st == VB_OK; j++)
            if (tag == want[j]) {
                if (seen[j]++)
                    st = vb_fail(err, VB_ERR_FORMAT, "%s: section %u appears twice", name, i);
                s[j] = (section){tag, p + off, (size_t)slen};
            }
        /* Unknown sections are skipped: later minor versions may add some. */
    }
    int ensemble = seen[7] > 0;
    for (int j = 0; j < 5 && st == VB_OK; j++)
        if (!seen[j] && !(ensemble && j > 0))
            st = vb_fail(err, VB_ERR_FORMAT, "%s: a required section is missing", name);
    vb_model *m = st == VB_OK ? vb_calloc(1, sizeof *m, err) : NULL;
    if (st == VB_OK && !m)
        st = VB_ERR_NOMEM;
    if (st != VB_OK) {
        free(ver);
        return st;
    }
    m->written_by = ver;
    for (int j = 0; j < 8; j++)
        m->sections[j] = s[j].len;
    if (seen[5]) {
        vb_reader ri;
        char what[300];
        snprintf(what, sizeof what, "%s (INFO)", name);
        vb_reader_init(&ri, s[5].data, s[5].len, what);
        if ((st = vb_read_str(&ri, &m->info, err)) == VB_OK)
            st = vb_reader_end(&ri, err);
    }
    if (st == VB_OK && seen[6])
        st = parse_task(m, &s[6], name, err);
    if (st == VB_OK && ensemble) {
        if ((st = parse_head(m, s, name, err)) == VB_OK)
            st = parse_ensemble(m, &s[7], name, err);
        if (st == VB_OK)
            st = vb_model_describe_build(m, err);
        if (st != VB_OK) {
            vb_model_free(m);
            return st;
        }
        *out = m;
        return VB_OK;
    }
    if (st == VB_OK)
        st = parse_sections(m, s, name, err);
    if (st == VB_OK && m->tax && m->tax->n_leaves != m->n_classes)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: the taxonomy has %d leaves for %d classes", name, m->tax->n_leaves,
                     m->n_classes);
    if (st == VB_OK && (m->task == VB_TASK_MULTILABEL) != vb_classifier_multilabels(m->clf->vt, &m->clf->params))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt model: its task (%s) is not its classifier's", name,
                     vb_task_name(m->task));
    if (st != VB_OK) {
        vb_model_free(m);
        return st;
    }
    *out = m;
    return VB_OK;
}

/* ---- saved cnn models, for the plug-ins that reuse one ----------------- */

static void release_model(void *m) { vb_model_free(m); }

/* A model whose classifier is a network, on rows that are its preprocessed
 * images (one image-rows extractor, no post-processing: what a cnn takes):
 * its network and its preprocessing, which the model keeps. */
static vb_status cnn_saved_parse(const void *data, size_t len, const char *name, vb_cnn_saved *out, vb_error *err)
{
    vb_model *m = NULL;
    vb_status st = vb_model_parse(data, len, name, &m, err);
    if (st != VB_OK)
        return st;
    const vb_cnn *net = m->clf && m->clf->vt->net ? m->clf->vt->net(m->clf->state) : NULL;
    if (!net || m->fp->n_ext != 1 || !(m->fp->ext[0]->vt->flags & VB_EXT_IMAGE_ROWS) || m->pc->n) {
        st = vb_fail(err, VB_ERR_FORMAT,
                     "%s: not a cnn model (it is %s); give a model that visbench train wrote for a pipeline whose "
                     "classifier is cnn",
                     name, vb_model_describe(m));
        vb_model_free(m);
        return st;
    }
    out->net = net;
    out->prep = &m->fp->prep;
    out->in = m->in;
    out->owner = m;
    out->release = release_model;
    return VB_OK;
}

void vb_model_install_hooks(void) { vb_cnn_set_saved_parser(cnn_saved_parse); }

vb_status vb_model_load(const char *path, vb_model **out, vb_error *err)
{
    *out = NULL;
    char *data;
    size_t len;
    vb_status st = vb_file_read(path, &data, &len, err);
    if (st != VB_OK)
        return st;
    st = vb_model_parse(data, len, path, out, err);
    free(data);
    return st;
}

/* ---- prediction -------------------------------------------------------- */

/* Each member predicts the images; their labels or scores combined. */
static vb_status predict_ensemble(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores, int *clusters,
                                  uint8_t *sets, vb_error *err)
{
    if (clusters || sets)
        return vb_fail(err, VB_ERR_STATE, "%s: an ensemble predicts one label per image (no clusters, no label sets)",
                       m->pipeline ? m->pipeline : "model");
    size_t n = src->n, M = m->n_members, K = (size_t)m->n_classes;
    int **ml = vb_calloc(M, sizeof *ml, err);
    float **ms = ml ? vb_calloc(M, sizeof *ms, err) : NULL;
    float *own = ms && !scores ? vb_malloc(n ? n : 1, K * sizeof *own, err) : NULL;
    vb_status st = ms && (scores || own) ? VB_OK : VB_ERR_NOMEM;
    for (size_t i = 0; i < M && st == VB_OK; i++) {
        ml[i] = vb_malloc(n ? n : 1, sizeof **ml, err);
        ms[i] = vb_malloc(n ? n : 1, K * sizeof **ms, err);
        st = ml[i] && ms[i] ? vb_model_predict_src(m->members[i], src, ml[i], ms[i], err) : VB_ERR_NOMEM;
    }
    float *S = scores ? scores : own;
    if (st == VB_OK && m->ens_method != VB_ENS_STACK)
        vb_ensemble_vote(m->ens_method, M, n, (int)K, (const float *const *)ms, (const int *const *)ml, m->weights,
                         labels, S);
    else if (st == VB_OK) {
        float *X;
        if ((st = vb_stack_rows(M, n, (int)K, (const float *const *)ms, &X, err)) == VB_OK)
            st = vb_classifier_predict(m->meta, X, n, M * K, labels, S, err);
        free(X);
    }
    for (size_t i = 0; ms && i < M; i++) {
        free(ml[i]);
        free(ms[i]);
    }
    free(ml);
    free(ms);
    free(own);
    return st;
}

vb_status vb_model_predict_src_ex(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores, int *clusters,
                                  vb_error *err)
{
    return vb_model_predict_src_sets(m, src, labels, scores, clusters, NULL, err);
}

vb_status vb_model_predict_src_sets(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores,
                                    int *clusters, uint8_t *sets, vb_error *err)
{
    if (m->n_members)
        return predict_ensemble(m, src, labels, scores, clusters, sets, err);
    size_t n = src->n;
    float *raw = vb_malloc(n ? n : 1, m->fp->dim * sizeof *raw, err), *X = NULL;
    float *sc = scores ? NULL : vb_malloc(n ? n : 1, (size_t)m->n_classes * sizeof *sc, err);
    if (!raw || (!scores && !sc)) {
        free(raw);
        free(sc);
        return VB_ERR_NOMEM;
    }
    vb_status st = vb_featpipe_extract(m->fp, src, raw, "predict: features", err);
    if (st == VB_OK)
        st = vb_postchain_apply(m->pc, raw, n, &X, err);
    float *S = scores ? scores : sc;
    if (st == VB_OK && sets) {
        /* label sets, and each image's best-scoring label */
        st = vb_classifier_predict_sets(m->clf, X, n, m->pc->dim, sets, S, err);
        if (st == VB_OK)
            vb_scores_argmax(S, n, m->n_classes, labels);
    } else if (st == VB_OK)
        st = vb_classifier_predict(m->clf, X, n, m->pc->dim, labels, S, err);
    int k = 0;
    if (st == VB_OK && clusters)
        st = vb_classifier_cluster(m->clf, X, n, m->pc->dim, clusters, &k, err);
    if (st == VB_OK && clusters && !k)
        st = vb_fail(err, VB_ERR_STATE, "%s: the model's classifier does not cluster", m->clf->vt->info.name);
    free(raw);
    free(X);
    free(sc);
    return st;
}

vb_status vb_model_predict_src(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores, vb_error *err)
{
    return vb_model_predict_src_ex(m, src, labels, scores, NULL, err);
}

int vb_model_clusters(const vb_model *m) { return !m->n_members && vb_classifier_clusters(m->clf->vt, &m->clf->params); }

typedef struct one_image {
    const vb_image *img;
} one_image;

static vb_status one_get(const vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err)
{
    const vb_image *img = ((const one_image *)src->ctx)->img;
    vb_status st = vb_image_reshape(dst, img->w, img->h, img->c, err);
    if (st == VB_OK)
        memcpy(dst->data, img->data, (size_t)img->w * img->h * img->c * sizeof(float));
    return st;
}

vb_status vb_model_predict_image(const vb_model *m, const vb_image *img, int *label, float *scores, vb_error *err)
{
    one_image ctx = {img};
    vb_imgsrc src = {.n = 1, .get = one_get, .ctx = &ctx};
    return vb_model_predict_src(m, &src, label, scores, err);
}

static vb_status file_get(const vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err)
{
    const char *const *paths = src->ctx;
    uint8_t *px;
    int w, h, c;
    vb_status st = vb_image_decode_u8(paths[i], &px, &w, &h, &c, err);
    if (st != VB_OK)
        return st;
    st = vb_image_from_u8(px, w, h, c, dst, err);
    free(px);
    return st;
}

vb_status vb_model_predict_files(const vb_model *m, const char *const *paths, size_t n, int *labels, float *scores,
                                 vb_error *err)
{
    return vb_model_predict_files_ex(m, paths, n, labels, scores, NULL, err);
}

vb_status vb_model_predict_files_ex(const vb_model *m, const char *const *paths, size_t n, int *labels, float *scores,
                                    int *clusters, vb_error *err)
{
    vb_imgsrc src = {.n = n, .get = file_get, .ctx = paths};
    return vb_model_predict_src_ex(m, &src, labels, scores, clusters, err);
}

vb_status vb_model_predict_files_sets(const vb_model *m, const char *const *paths, size_t n, int *labels,
                                      float *scores, uint8_t *sets, vb_error *err)
{
    vb_imgsrc src = {.n = n, .get = file_get, .ctx = paths};
    return vb_model_predict_src_sets(m, &src, labels, scores, NULL, sets, err);
}

vb_status vb_model_predict_file(const vb_model *m, const char *path, int *label, float *scores, vb_error *err)
{
    return vb_model_predict_files(m, &path, 1, label, scores, err);
}
