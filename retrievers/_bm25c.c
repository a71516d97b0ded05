/* Optional compiled kernels for retrievers/bm25.py and retrievers/analysis.py.
 *
 * Each function has a pure-Python/numpy twin that stays the reference (tests check that both
 * give identical results); this module only removes the per-posting and per-token interpreter
 * work. Built with -ffp-contract=off: a fused multiply-add would round differently from the
 * float32 arithmetic that gensim and Lucene do.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- buffers ------------------------------------------------------------------------------- */
typedef struct {
    Py_buffer view;
    int ok;
} Buf;

static int get_buf(PyObject *obj, Buf *b, char kind, Py_ssize_t size, int writable, const char *name) {
    /* kind: 'i' any signed integer (4 or 8 bytes), 'f' float32, 'd' float64 */
    b->ok = 0;
    if (PyObject_GetBuffer(obj, &b->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    b->ok = 1;
    const char *f = b->view.format ? b->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    int good;
    if (kind == 'f') good = (*f == 'f' && b->view.itemsize == 4);
    else if (kind == 'd') good = (*f == 'd' && b->view.itemsize == 8);
    else good = (strchr("ilqn", *f) != NULL && (b->view.itemsize == 4 || b->view.itemsize == 8));
    if (!good) {
        PyErr_Format(PyExc_TypeError, "%s: unexpected dtype (format %s, itemsize %zd)", name, f, b->view.itemsize);
        return -1;
    }
    if (size >= 0 && b->view.len / b->view.itemsize != size) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items, got %zd", name, size, b->view.len / b->view.itemsize);
        return -1;
    }
    return 0;
}

static void release(Buf *b, int n) {
    for (int i = 0; i < n; i++)
        if (b[i].ok) PyBuffer_Release(&b[i].view);
}

static inline int64_t at(const Buf *b, Py_ssize_t i) {
    return b->view.itemsize == 4 ? ((const int32_t *)b->view.buf)[i] : ((const int64_t *)b->view.buf)[i];
}

/* ---- search ---------------------------------------------------------------------------------
 * score(indptr, indices, data, terms, qweights, out, lucene)
 *   For each query term t (in the given order) and each posting p of t:
 *     bright: out[doc] += qweights[t] * data[p]                     (float32, = csc_matvec)
 *     lucene: out[doc] += (double)(w - w / (1f + data[p])), w = qweights[t]   (= np.bincount)
 * The per-document summation order is the order of `terms`, as in the numpy twin. */
static PyObject *score(PyObject *self, PyObject *args) {
    PyObject *o[6];
    int lucene;
    if (!PyArg_ParseTuple(args, "OOOOOOp", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &lucene)) return NULL;
    Buf b[6];
    memset(b, 0, sizeof b);
    if (get_buf(o[0], &b[0], 'i', -1, 0, "indptr") < 0 || get_buf(o[1], &b[1], 'i', -1, 0, "indices") < 0 ||
        get_buf(o[2], &b[2], 'f', b[1].view.len / b[1].view.itemsize, 0, "data") < 0 ||
        get_buf(o[3], &b[3], 'i', -1, 0, "terms") < 0 ||
        get_buf(o[4], &b[4], 'f', b[3].view.len / b[3].view.itemsize, 0, "qweights") < 0 ||
        get_buf(o[5], &b[5], lucene ? 'd' : 'f', -1, 1, "out") < 0) {
        release(b, 6);
        return NULL;
    }
    Py_ssize_t n_terms = b[0].view.len / b[0].view.itemsize - 1, n_q = b[3].view.len / b[3].view.itemsize;
    Py_ssize_t n_out = b[5].view.len / b[5].view.itemsize, n_post = b[1].view.len / b[1].view.itemsize;
    const float *data = b[2].view.buf, *qw = b[4].view.buf;
    int idx32 = b[1].view.itemsize == 4;
    /* terms are checked up front; documents inside the loop (a predictable branch), so a corrupt
     * index raises instead of writing out of bounds */
    for (Py_ssize_t q = 0; q < n_q; q++) {
        int64_t t = at(&b[3], q);
        if (t < 0 || t >= n_terms || at(&b[0], t) < 0 || at(&b[0], t) > at(&b[0], t + 1) || at(&b[0], t + 1) > n_post) {
            release(b, 6);
            return PyErr_Format(PyExc_IndexError, "term %lld out of range", (long long)t);
        }
    }
    uint64_t bad = 0, n = (uint64_t)n_out;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t q = 0; q < n_q; q++) {
        int64_t t = at(&b[3], q), lo = at(&b[0], t), hi = at(&b[0], t + 1);
        float w = qw[q];
#define LOOP(IX, BODY)                                                  \
        {                                                               \
            const IX *ix = b[1].view.buf;                               \
            for (int64_t p = lo; p < hi; p++) {                         \
                uint64_t d = (uint64_t)(int64_t)ix[p];                  \
                if (d >= n) { bad++; continue; }                        \
                BODY;                                                   \
            }                                                           \
        }
        if (lucene) {
            double *out = b[5].view.buf;
            if (idx32) LOOP(int32_t, out[d] += (double)(w - w / (1.0f + data[p])))
            else LOOP(int64_t, out[d] += (double)(w - w / (1.0f + data[p])))
        } else {
            float *out = b[5].view.buf;
            if (idx32) LOOP(int32_t, out[d] += data[p] * w)
            else LOOP(int64_t, out[d] += data[p] * w)
        }
#undef LOOP
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        release(b, 6);
        return PyErr_Format(PyExc_IndexError, "%llu postings point past the last document", (unsigned long long)bad);
    }
    release(b, 6);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"score", score, METH_VARARGS, "Accumulate BM25 scores of one query's posting lists (see bm25.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bm25c", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bm25c(void) { return PyModule_Create(&module); }
