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

/* ---- analysis: SpanTable -----------------------------------------------------------------
 * The analyzer cuts a (lower-cased) text into spans at separator characters and maps each
 * distinct span to its term ids once (a Python callback, the reference code); every later
 * occurrence is a hash lookup here, with no Python object created. Separators are given as two
 * tables over U+0000..U+3000 (one for pure-ASCII texts, one for others): no character at or
 * above U+3001 separates, as in analysis.py. */
#define SEP_N 0x3001

/* A span of at most INLINE code points below U+0100 (nearly every span) is stored in its slot,
 * with its id when it has one: a hit then reads one slot and no Python object. Longer spans
 * keep their str for the comparison. */
#define INLINE 14
#define INL_FLAG 0x8000u
typedef struct {
    uint64_t hash;
    uint16_t len;   /* code points (0 = empty slot; capped at 0x7FFF) | INL_FLAG */
    uint16_t n;     /* ids of the span */
    int32_t id;     /* the id if n == 1, else where its ids start in the pool */
    uint8_t inl[INLINE];
    PyObject *key;  /* NULL for inline spans */
} Entry;

typedef struct {
    PyObject_HEAD
    PyObject *miss;
    unsigned char sep[2][SEP_N];
    Entry *slots;
    size_t cap, used, max_entries;
    int32_t *pool;
    size_t pool_len, pool_cap;
    int32_t *out;
    size_t out_len, out_cap;
    Py_UCS2 *lower;          /* simple lower case of each BMP code point */
    unsigned char *unsafe;   /* bit per BMP code point: lower-casing the text first is not safe */
    Py_UCS2 *scratch;        /* the current span, lower-cased */
    size_t scratch_cap;
} SpanTable;

static int grow_i32(int32_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    int32_t *p = PyMem_Realloc(*buf, c * sizeof(int32_t));
    if (!p) { PyErr_NoMemory(); return -1; }
    *buf = p;
    *cap = c;
    return 0;
}

static void table_clear(SpanTable *t) {
    if (t->slots)
        for (size_t i = 0; i < t->cap; i++) Py_CLEAR(t->slots[i].key);
    PyMem_Free(t->slots);
    t->slots = NULL;
    t->cap = t->used = 0;
    t->pool_len = 0;
}

static inline size_t slot_of(uint64_t h, size_t cap) { return (size_t)(h ^ (h >> 29)) & (cap - 1); }

static int table_resize(SpanTable *t, size_t cap) {
    Entry *slots = PyMem_Calloc(cap, sizeof(Entry));
    if (!slots) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < t->cap; i++) {
        Entry *e = &t->slots[i];
        if (!e->len) continue;
        size_t j = slot_of(e->hash, cap);
        while (slots[j].len) j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static int same_span(const Entry *e, int kind, const void *data, Py_ssize_t st, Py_ssize_t n) {
    if ((e->len & ~INL_FLAG) != (n < 0x7FFF ? n : 0x7FFF)) return 0;
    if (e->len & INL_FLAG) {
        if (kind == PyUnicode_1BYTE_KIND) return memcmp(e->inl, (const Py_UCS1 *)data + st, n) == 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (e->inl[i] != PyUnicode_READ(kind, data, st + i)) return 0;
        return 1;
    }
    PyObject *key = e->key;
    if (PyUnicode_GET_LENGTH(key) != n) return 0;
    int kk = PyUnicode_KIND(key);
    const void *kd = PyUnicode_DATA(key);
    if (kk == kind) return memcmp(kd, (const char *)data + st * kind, (size_t)n * kind) == 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyUnicode_READ(kk, kd, i) != PyUnicode_READ(kind, data, st + i)) return 0;
    return 1;
}

/* Append the ids of text[st:end) (hash h) to out. */
static int emit(SpanTable *t, PyObject *text, int kind, const void *data, Py_ssize_t st, Py_ssize_t end, uint64_t h) {
    Py_ssize_t n = end - st;
    Entry *e = NULL;
    if (t->cap) {
        size_t j = slot_of(h, t->cap);
        while (t->slots[j].len) {
            Entry *c = &t->slots[j];
            if (c->hash == h && same_span(c, kind, data, st, n)) { e = c; break; }
            j = (j + 1) & (t->cap - 1);
        }
    }
    if (!e) {
        if (t->used >= t->max_entries) table_clear(t); /* bound memory, as the Python cache does */
        if ((t->used + 1) * 10 > t->cap * 7 && table_resize(t, t->cap ? t->cap * 2 : 1 << 16) < 0) return -1;
        PyObject *key = text ? PyUnicode_Substring(text, st, end)
                             : PyUnicode_FromKindAndData(kind, (const char *)data + st * kind, n);
        if (!key) return -1;
        PyObject *res = PyObject_CallOneArg(t->miss, key);
        if (!res) { Py_DECREF(key); return -1; }
        PyObject *seq = PySequence_Fast(res, "SpanTable: the miss callback must return a sequence of ints");
        Py_DECREF(res);
        if (!seq) { Py_DECREF(key); return -1; }
        Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
        if (m > 0xFFFF || grow_i32(&t->pool, &t->pool_cap, t->pool_len + m) < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_OverflowError, "SpanTable: too many terms in one span");
            Py_DECREF(seq); Py_DECREF(key); return -1;
        }
        for (Py_ssize_t i = 0; i < m; i++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
            if (v == -1 && PyErr_Occurred()) { Py_DECREF(seq); Py_DECREF(key); return -1; }
            if (v < INT32_MIN || v > INT32_MAX) {
                Py_DECREF(seq); Py_DECREF(key);
                PyErr_SetString(PyExc_OverflowError, "SpanTable: term id does not fit int32");
                return -1;
            }
            t->pool[t->pool_len + i] = (int32_t)v;
        }
        Py_DECREF(seq);
        size_t j = slot_of(h, t->cap);
        while (t->slots[j].len) j = (j + 1) & (t->cap - 1);
        e = &t->slots[j];
        e->hash = h;
        e->n = (uint16_t)m;
        if (m == 1) {
            e->id = t->pool[t->pool_len];
        } else {
            e->id = (int32_t)t->pool_len;
            t->pool_len += m;
        }
        e->len = (uint16_t)(n < 0x7FFF ? n : 0x7FFF);
        if (n <= INLINE && PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND) {
            memcpy(e->inl, PyUnicode_DATA(key), n);
            e->len |= INL_FLAG;
            Py_DECREF(key);
        } else {
            e->key = key;
        }
        t->used++;
    }
    if (e->n == 1) {
        if (t->out_len == t->out_cap && grow_i32(&t->out, &t->out_cap, t->out_len + 1) < 0) return -1;
        t->out[t->out_len++] = e->id;
    } else if (e->n) {
        if (grow_i32(&t->out, &t->out_cap, t->out_len + e->n) < 0) return -1;
        memcpy(t->out + t->out_len, t->pool + e->id, e->n * sizeof(int32_t));
        t->out_len += e->n;
    }
    return 0;
}

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* feed(text, lower=True): with `lower`, the text is lower-cased here as analysis.py's _lowered()
 * does -- str.lower() unless the text holds a character for which that is unsafe, then as is --
 * for texts without astral characters; for others it returns -1 and consumes nothing (the
 * caller lower-cases in Python and feeds with lower=False). */
static int scratch_fit(SpanTable *t, size_t n) {
    if (n <= t->scratch_cap) return 0;
    size_t c = t->scratch_cap ? t->scratch_cap : 256;
    while (c < n) c *= 2;
    Py_UCS2 *p = PyMem_Realloc(t->scratch, c * sizeof(Py_UCS2));
    if (!p) { PyErr_NoMemory(); return -1; }
    t->scratch = p;
    t->scratch_cap = c;
    return 0;
}

#define IS_SEP(c) ((c) < SEP_N && sep[c])

static PyObject *SpanTable_feed(SpanTable *t, PyObject *args) {
    PyObject *text;
    int lower = 1;
    if (!PyArg_ParseTuple(args, "U|p", &text, &lower)) return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), i = 0;
    const unsigned char *sep = t->sep[PyUnicode_IS_ASCII(text) ? 0 : 1];
    size_t before = t->out_len;
    if (lower && kind == PyUnicode_4BYTE_KIND) return PyLong_FromLong(-1);
    if (lower && !PyUnicode_IS_ASCII(text)) {
        const unsigned char *u = t->unsafe;
        for (Py_ssize_t k = 0; k < len && lower; k++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, k);
            if (u[c >> 3] & (1u << (c & 7))) lower = 0;
        }
    }
    /* Spans are cut and hashed on the (lower-cased) characters; a lower-cased span is copied to
     * scratch for the lookup, an unchanged one is looked up in place. */
#define SCAN(TYPE, LOW)                                                              \
    {                                                                                \
        const TYPE *s = data;                                                        \
        while (i < len) {                                                            \
            while (i < len && IS_SEP(LOW(s[i]))) i++;                                \
            if (i >= len) break;                                                     \
            Py_ssize_t st = i;                                                       \
            uint64_t h = FNV_OFFSET;                                                 \
            while (i < len && !IS_SEP(LOW(s[i]))) {                                  \
                h = (h ^ (uint64_t)LOW(s[i])) * FNV_PRIME;                           \
                i++;                                                                 \
            }                                                                        \
            if (lower) {                                                             \
                if (scratch_fit(t, (size_t)(i - st)) < 0) return NULL;               \
                for (Py_ssize_t k = st; k < i; k++) t->scratch[k - st] = LOW(s[k]);  \
                if (emit(t, NULL, PyUnicode_2BYTE_KIND, t->scratch, 0, i - st, h) < 0) \
                    return NULL;                                                     \
            } else if (emit(t, text, kind, data, st, i, h) < 0) {                    \
                return NULL;                                                         \
            }                                                                        \
        }                                                                            \
    }
#define RAW(c) (c)
#define LOW_BMP(c) (t->lower[(c)])
    if (lower) {
        if (kind == PyUnicode_1BYTE_KIND) SCAN(Py_UCS1, LOW_BMP)
        else SCAN(Py_UCS2, LOW_BMP)
    } else {
        if (kind == PyUnicode_1BYTE_KIND) SCAN(Py_UCS1, RAW)
        else if (kind == PyUnicode_2BYTE_KIND) SCAN(Py_UCS2, RAW)
        else SCAN(Py_UCS4, RAW)
    }
#undef SCAN
#undef RAW
#undef LOW_BMP
    return PyLong_FromSize_t(t->out_len - before);
}

static PyObject *SpanTable_take(SpanTable *t, PyObject *unused) {
    PyObject *b = PyBytes_FromStringAndSize((const char *)t->out, (Py_ssize_t)(t->out_len * sizeof(int32_t)));
    t->out_len = 0;
    return b;
}

static PyObject *SpanTable_clear(SpanTable *t, PyObject *unused) {
    table_clear(t);
    t->out_len = 0;
    Py_RETURN_NONE;
}

static int SpanTable_init(SpanTable *t, PyObject *args, PyObject *kw) {
    static char *names[] = {"miss", "sep_ascii", "sep_other", "lower", "unsafe", "max_entries", NULL};
    PyObject *miss;
    Py_buffer a, o, lo, un;
    Py_ssize_t max_entries;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oy*y*y*y*n", names, &miss, &a, &o, &lo, &un, &max_entries)) return -1;
    int bad = a.len != SEP_N || o.len != SEP_N || lo.len != 65536 * 2 || un.len != 65536 / 8 ||
              !PyCallable_Check(miss) || max_entries < 1;
    if (!bad) {
        memcpy(t->sep[0], a.buf, SEP_N);
        memcpy(t->sep[1], o.buf, SEP_N);
        if (!t->lower) t->lower = PyMem_Malloc(65536 * 2);
        if (!t->unsafe) t->unsafe = PyMem_Malloc(65536 / 8);
        if (t->lower && t->unsafe) {
            memcpy(t->lower, lo.buf, 65536 * 2);
            memcpy(t->unsafe, un.buf, 65536 / 8);
        }
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&o);
    PyBuffer_Release(&lo);
    PyBuffer_Release(&un);
    if (bad) {
        PyErr_Format(PyExc_ValueError, "SpanTable(miss callable, two %d-byte separator tables, a 65536 x uint16 "
                     "lower-case table, a 65536-bit unsafe set, max_entries >= 1)", SEP_N);
        return -1;
    }
    if (!t->lower || !t->unsafe) {
        PyErr_NoMemory();
        return -1;
    }
    table_clear(t);
    Py_INCREF(miss);
    Py_XSETREF(t->miss, miss);
    t->max_entries = (size_t)max_entries;
    return 0;
}

static int SpanTable_traverse(SpanTable *t, visitproc visit, void *arg) {
    Py_VISIT(t->miss);
    return 0;
}

static int SpanTable_tp_clear(SpanTable *t) {
    Py_CLEAR(t->miss);
    return 0;
}

static void SpanTable_dealloc(SpanTable *t) {
    PyObject_GC_UnTrack(t);
    table_clear(t);
    Py_CLEAR(t->miss);
    PyMem_Free(t->pool);
    PyMem_Free(t->out);
    PyMem_Free(t->lower);
    PyMem_Free(t->unsafe);
    PyMem_Free(t->scratch);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t SpanTable_len(SpanTable *t) { return (Py_ssize_t)t->used; }

static PyMethodDef SpanTable_methods[] = {
    {"feed", (PyCFunction)SpanTable_feed, METH_VARARGS,
     "feed(text, lower=True) -> number of ids appended to the buffer (-1: lower-case it in Python first)"},
    {"take", (PyCFunction)SpanTable_take, METH_NOARGS, "take() -> the buffered ids as int32 bytes; empties the buffer"},
    {"clear", (PyCFunction)SpanTable_clear, METH_NOARGS, "forget every span"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods SpanTable_seq = {.sq_length = (lenfunc)SpanTable_len};

static PyTypeObject SpanTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bright_eval.retrievers._bm25c.SpanTable",
    .tp_basicsize = sizeof(SpanTable),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "span -> term ids, filled by a Python callback on first sight (see analysis.py)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)SpanTable_init,
    .tp_dealloc = (destructor)SpanTable_dealloc,
    .tp_traverse = (traverseproc)SpanTable_traverse,
    .tp_clear = (inquiry)SpanTable_tp_clear,
    .tp_methods = SpanTable_methods,
    .tp_as_sequence = &SpanTable_seq,
};

static PyMethodDef methods[] = {
    {"score", score, METH_VARARGS, "Accumulate BM25 scores of one query's posting lists (see bm25.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bm25c", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bm25c(void) {
    if (PyType_Ready(&SpanTableType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&SpanTableType);
    if (PyModule_AddObject(m, "SpanTable", (PyObject *)&SpanTableType) < 0) {
        Py_DECREF(&SpanTableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
