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
#include <math.h>
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
 * search(indptr, indices, data, terms, qweights, lucene, k, tie_rank, tie_order, exclude, fill,
 *        ids, threads) -> {doc id: score}: one query, scored, cut and turned into its hits dict
 * (BM25Retriever.search's numpy steps in one call). threads: the most threads to score with, as
 * the query's size pays for them; -t: exactly t (tests).
 *   For each query term t (in the given order) and each posting p of t:
 *     bright: s[doc] += qweights[t] * data[p]                     (float32, = csc_matvec)
 *     lucene: acc[doc] += (double)(w - w / (1f + data[p])), w = qweights[t]   (= np.bincount),
 *             then s = (float)acc
 *   The per-document summation order is the order of `terms`, as in the numpy twin, also when the
 *   documents are split across threads (each thread owns a range of documents, never a posting
 *   list's share of one document), so the scores do not depend on the thread count.
 *   s[exclude] = -inf; the k best documents with s > 0, by score then ascending tie_rank (None:
 *   document order; tie_order is its inverse); with `fill`, documents scoring 0 follow in
 *   document order up to k (BRIGHT sorts every document). Values are the float32 scores; ids is a
 *   list of str (whose hashing runs no Python code that could change the list). */
#if !defined(_WIN32)
#include <pthread.h>
#define HAVE_THREADS 1
#endif
#define MAX_THREADS 8
#define POSTINGS_PER_THREAD 150000 /* work per extra thread, so that starting it (tens of us) stays small */
#define DOCS_PER_THREAD 8192

typedef struct {
    const void *ix;
    int ix32;
    const float *data;
    const int64_t *lo, *hi; /* posting range of each query term */
    const float *qw;
    Py_ssize_t n_q;
    int lucene;
    float *s;
    double *acc;
    int64_t d0, d1; /* documents [d0, d1) */
    int first, last;
    uint64_t bad;
} Part;

static inline int64_t ix_at(const Part *j, int64_t p) {
    return j->ix32 ? ((const int32_t *)j->ix)[p] : ((const int64_t *)j->ix)[p];
}

/* First p in [lo, hi) with ix[p] >= d: postings of a term ascend by document. Were they not, the
 * split points of neighbouring parts are still the same call, so every posting falls in exactly
 * one part, whose range check below then reports it. */
static int64_t lower_bound(const Part *j, int64_t lo, int64_t hi, int64_t d) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ix_at(j, mid) < d) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void *score_part(void *arg) {
    Part *j = arg;
    int64_t d0 = j->d0;
    uint64_t span = (uint64_t)(j->d1 - d0), bad = 0;
    if (j->lucene) memset(j->acc + d0, 0, span * sizeof(double));
    else memset(j->s + d0, 0, span * sizeof(float));
    for (Py_ssize_t q = 0; q < j->n_q; q++) {
        int64_t lo = j->lo[q], hi = j->hi[q];
        int64_t a = j->first ? lo : lower_bound(j, lo, hi, d0), b = j->last ? hi : lower_bound(j, lo, hi, j->d1);
        if (a > b) { bad += 1; continue; }
        float w = j->qw[q];
        const float *data = j->data;
#define LOOP(IX, BODY)                                          \
        {                                                       \
            const IX *ix = j->ix;                               \
            for (int64_t p = a; p < b; p++) {                   \
                uint64_t d = (uint64_t)((int64_t)ix[p] - d0);   \
                if (d >= span) { bad++; continue; }             \
                BODY;                                           \
            }                                                   \
        }
        if (j->lucene) {
            double *out = j->acc + d0;
            if (j->ix32) LOOP(int32_t, out[d] += (double)(w - w / (1.0f + data[p])))
            else LOOP(int64_t, out[d] += (double)(w - w / (1.0f + data[p])))
        } else {
            float *out = j->s + d0;
            if (j->ix32) LOOP(int32_t, out[d] += data[p] * w)
            else LOOP(int64_t, out[d] += data[p] * w)
        }
#undef LOOP
    }
    if (j->lucene)
        for (int64_t d = d0; d < j->d1; d++) j->s[d] = (float)j->acc[d];
    j->bad = bad;
    return NULL;
}

/* uint64 keys: select (median-of-3 Hoare partitions, heapsort past a depth limit) */
static void isort_u64(uint64_t *a, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        uint64_t x = a[i];
        int64_t j = i;
        while (j > 0 && a[j - 1] > x) { a[j] = a[j - 1]; j--; }
        a[j] = x;
    }
}

static void sift_u64(uint64_t *a, int64_t i, int64_t n) {
    uint64_t x = a[i];
    for (int64_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && a[c + 1] > a[c]) c++;
        if (a[c] <= x) break;
        a[i] = a[c];
    }
    a[i] = x;
}

static void heapsort_u64(uint64_t *a, int64_t n) {
    for (int64_t i = n / 2 - 1; i >= 0; i--) sift_u64(a, i, n);
    for (int64_t e = n - 1; e > 0; e--) {
        uint64_t x = a[0]; a[0] = a[e]; a[e] = x;
        sift_u64(a, 0, e);
    }
}

/* returns j: a[0..j] <= a[j+1..n-1], both sides non-empty (n >= 3) */
static int64_t hoare_u64(uint64_t *a, int64_t n) {
    int64_t m = n / 2;
    uint64_t t;
#define SWAP(x, y) (t = a[x], a[x] = a[y], a[y] = t)
    if (a[m] < a[0]) SWAP(m, 0);
    if (a[n - 1] < a[m]) { SWAP(n - 1, m); if (a[m] < a[0]) SWAP(m, 0); }
    uint64_t x = a[m];
    int64_t i = -1, j = n;
    for (;;) {
        do i++; while (a[i] < x);
        do j--; while (a[j] > x);
        if (i >= j) return j;
        SWAP(i, j);
    }
#undef SWAP
}

/* afterwards a[0..kth] are the kth + 1 smallest */
static void select_u64(uint64_t *a, int64_t n, int64_t kth) {
    int depth = 64;
    while (n > 16) {
        if (depth-- <= 0) { heapsort_u64(a, n); return; }
        int64_t j = hoare_u64(a, n) + 1;
        if (kth < j) n = j;
        else { a += j; n -= j; kth -= j; }
    }
    isort_u64(a, n);
}

/* LSD radix sort, one pass per byte in which the keys differ (about 6 for ~1.5k candidates,
 * no branch on the keys: a comparison sort's mispredictions cost more) */
static void radix_u64(uint64_t *a, int64_t n, uint64_t *tmp) {
    if (n < 64) { isort_u64(a, n); return; }
    uint32_t h[8][256];
    memset(h, 0, sizeof h);
    uint64_t diff = 0, *orig = a;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = a[i];
        diff |= x ^ a[0];
        for (int b = 0; b < 8; b++) h[b][(x >> (8 * b)) & 255]++;
    }
    for (int b = 0; b < 8; b++) {
        if (!((diff >> (8 * b)) & 255)) continue;
        uint32_t sum = 0;
        for (int v = 0; v < 256; v++) { uint32_t c = h[b][v]; h[b][v] = sum; sum += c; }
        for (int64_t i = 0; i < n; i++) tmp[h[b][(a[i] >> (8 * b)) & 255]++] = a[i];
        uint64_t *t = a; a = tmp; tmp = t;
    }
    if (a != orig) memcpy(orig, a, (size_t)n * sizeof *a);
}

static inline uint32_t fbits(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

/* Keys (best first once sorted) of the k best documents with s > 0: (0x7F800000 - float bits) << 32
 * | tie, tie = tie_rank[doc] or doc. A threshold from a strided sample usually leaves ~1.5k
 * candidates for one pass; every positive score is the fallback. keys, tmp: room for n. */
static int64_t top_keys(const float *s, int64_t n, int64_t k, const int64_t *tie, uint64_t *keys, uint64_t *tmp) {
    if (k <= 0) return 0;
    int64_t cnt = -1, step = n / (4 * k);
    if (n > k && step >= 2) {
        int64_t m = 0, j = 3 * k / (2 * step) + 1;
        for (int64_t i = 0; i < n; i += step) keys[m++] = s[i] > 0 ? fbits(s[i]) : 0; /* NaN too */
        if (j <= m) {
            select_u64(keys, m, m - j);
            uint32_t thr = (uint32_t)keys[m - j];
            if (thr > 0) {
                float f;
                memcpy(&f, &thr, 4);
                cnt = 0;
                for (int64_t i = 0; i < n; i++)
                    if (s[i] >= f) keys[cnt++] = ((uint64_t)(0x7F800000u - fbits(s[i])) << 32) | (uint32_t)(tie ? tie[i] : i);
                if (cnt < k) cnt = -1;
            }
        }
    }
    if (cnt < 0) {
        cnt = 0;
        for (int64_t i = 0; i < n; i++)
            if (s[i] > 0) keys[cnt++] = ((uint64_t)(0x7F800000u - fbits(s[i])) << 32) | (uint32_t)(tie ? tie[i] : i);
    }
    if (cnt > 2 * k) { /* the fallback's many candidates */
        select_u64(keys, cnt, k - 1);
        cnt = k;
    }
    radix_u64(keys, cnt, tmp);
    return cnt < k ? cnt : k;
}

static PyObject *search(PyObject *self, PyObject *args) {
    PyObject *o[6], *tie_rank_o, *tie_order_o, *exclude_o, *ids;
    int lucene, fill;
    Py_ssize_t k, max_threads;
    if (!PyArg_ParseTuple(args, "OOOOOpnOOOpO!n", &o[0], &o[1], &o[2], &o[3], &o[4], &lucene, &k, &tie_rank_o,
                          &tie_order_o, &exclude_o, &fill, &PyList_Type, &ids, &max_threads))
        return NULL;
    Buf b[8];
    memset(b, 0, sizeof b);
    PyObject *res = NULL;
    float *s = NULL;
    double *acc = NULL;
    uint64_t *keys = NULL;
    int64_t *ranges = NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids);
    if (get_buf(o[0], &b[0], 'i', -1, 0, "indptr") < 0 || get_buf(o[1], &b[1], 'i', -1, 0, "indices") < 0 ||
        get_buf(o[2], &b[2], 'f', b[1].view.len / b[1].view.itemsize, 0, "data") < 0 ||
        get_buf(o[3], &b[3], 'i', -1, 0, "terms") < 0 ||
        get_buf(o[4], &b[4], 'f', b[3].view.len / b[3].view.itemsize, 0, "qweights") < 0)
        goto done;
    if (tie_rank_o != Py_None && (get_buf(tie_rank_o, &b[5], 'i', n, 0, "tie_rank") < 0 ||
                                  get_buf(tie_order_o, &b[6], 'i', n, 0, "tie_order") < 0))
        goto done;
    if (exclude_o != Py_None && get_buf(exclude_o, &b[7], 'i', -1, 0, "exclude") < 0) goto done;
    if ((b[5].ok && b[5].view.itemsize != 8) || (b[6].ok && b[6].view.itemsize != 8) || (b[7].ok && b[7].view.itemsize != 8)) {
        PyErr_SetString(PyExc_TypeError, "tie_rank, tie_order and exclude must be int64");
        goto done;
    }
    if (k < 0 || n >= ((int64_t)1 << 32)) {
        PyErr_SetString(PyExc_ValueError, "k must be >= 0 and the corpus below 2**32 documents");
        goto done;
    }
    Py_ssize_t n_terms = b[0].view.len / b[0].view.itemsize - 1, n_q = b[3].view.len / b[3].view.itemsize;
    Py_ssize_t n_post = b[1].view.len / b[1].view.itemsize;
    const int64_t *tie = b[5].ok ? b[5].view.buf : NULL, *order = b[6].ok ? b[6].view.buf : NULL;
    ranges = PyMem_Malloc(sizeof(int64_t) * (2 * n_q + 1));
    s = PyMem_Malloc(sizeof(float) * (n + 1));
    keys = PyMem_Malloc(sizeof(uint64_t) * 2 * (n + 1)); /* candidates, then the radix sort's room */
    if (lucene) acc = PyMem_Malloc(sizeof(double) * (n + 1));
    if (!ranges || !s || !keys || (lucene && !acc)) { PyErr_NoMemory(); goto done; }
    /* terms are checked up front; documents inside the loop (a predictable branch), so a corrupt
     * index raises instead of writing out of bounds */
    int64_t total = 0;
    for (Py_ssize_t q = 0; q < n_q; q++) {
        int64_t t = at(&b[3], q);
        if (t < 0 || t >= n_terms || at(&b[0], t) < 0 || at(&b[0], t) > at(&b[0], t + 1) || at(&b[0], t + 1) > n_post) {
            PyErr_Format(PyExc_IndexError, "term %lld out of range", (long long)t);
            goto done;
        }
        ranges[q] = at(&b[0], t);
        ranges[n_q + q] = at(&b[0], t + 1);
        total += ranges[n_q + q] - ranges[q];
    }
    int64_t n_ex = b[7].ok ? b[7].view.len / 8 : 0;
    const int64_t *ex = b[7].ok ? b[7].view.buf : NULL;
    for (int64_t i = 0; i < n_ex; i++)
        if (ex[i] < 0 || ex[i] >= n) {
            PyErr_Format(PyExc_IndexError, "excluded position %lld out of range", (long long)ex[i]);
            goto done;
        }

    /* threads: the most to use, as the query's size allows; -t: exactly t (for tests) */
    int n_thr = max_threads < 0 ? (int)(-max_threads < MAX_THREADS ? -max_threads : MAX_THREADS) : 1;
#ifdef HAVE_THREADS
    while (n_thr < max_threads && n_thr < MAX_THREADS && total >= (int64_t)(n_thr + 1) * POSTINGS_PER_THREAD &&
           n >= (int64_t)(n_thr + 1) * DOCS_PER_THREAD)
        n_thr++;
#endif
    Part parts[MAX_THREADS];
    uint64_t bad = 0;
    int64_t cnt;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < n_thr; i++) {
        parts[i] = (Part){.ix = b[1].view.buf, .ix32 = b[1].view.itemsize == 4, .data = b[2].view.buf,
                          .lo = ranges, .hi = ranges + n_q, .qw = b[4].view.buf, .n_q = n_q, .lucene = lucene,
                          .s = s, .acc = acc, .d0 = n * i / n_thr, .d1 = n * (i + 1) / n_thr,
                          .first = i == 0, .last = i == n_thr - 1};
    }
#ifdef HAVE_THREADS
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int i = 1; i < n_thr; i++) started[i] = pthread_create(&th[i], NULL, score_part, &parts[i]) == 0;
    score_part(&parts[0]);
    for (int i = 1; i < n_thr; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else score_part(&parts[i]); /* no thread to be had: do its share here */
    }
#else
    for (int i = 0; i < n_thr; i++) score_part(&parts[i]);
#endif
    for (int i = 0; i < n_thr; i++) bad += parts[i].bad;
    for (int64_t i = 0; i < n_ex; i++) s[ex[i]] = -INFINITY;
    cnt = bad ? 0 : top_keys(s, n, k, tie, keys, keys + n + 1);
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_Format(PyExc_IndexError, "%llu postings point past the last document or out of order", (unsigned long long)bad);
        goto done;
    }
#if PY_VERSION_HEX < 0x030D0000
    PyObject *hits = _PyDict_NewPresized(fill && n > cnt ? (n < k ? n : k) : cnt);
#else
    PyObject *hits = PyDict_New();
#endif
    if (!hits) goto done;
    for (int64_t i = 0; i < cnt; i++) {
        /* tie_rank and tie_order are the retriever's own; checked only where read */
        int64_t r = (int64_t)(keys[i] & 0xFFFFFFFFu), d = r < n ? (order ? order[r] : r) : -1;
        if (d < 0 || d >= n) {
            Py_DECREF(hits);
            PyErr_SetString(PyExc_IndexError, "tie_rank/tie_order out of range");
            goto done;
        }
        keys[i] = (uint64_t)d;
    }
    PyObject **items = ((PyListObject *)ids)->ob_item;
    for (int64_t i = 0; i < cnt; i++) {
#if defined(__GNUC__)
        /* the ids' str objects are spread over the heap and out of cache after scoring: fetch
         * the list slot, then the object (its hash and refcount), ahead of use */
        if (i + 16 < cnt) __builtin_prefetch(&items[keys[i + 16]]);
        if (i + 8 < cnt) __builtin_prefetch(items[keys[i + 8]]);
#endif
        int64_t d = (int64_t)keys[i];
        PyObject *v = PyFloat_FromDouble((double)s[d]);
        if (!v || PyDict_SetItem(hits, items[d], v) < 0) { Py_XDECREF(v); Py_DECREF(hits); goto done; }
        Py_DECREF(v);
    }
    if (fill && PyDict_GET_SIZE(hits) < k) {
        PyObject *zero = PyFloat_FromDouble(0.0);
        if (!zero) { Py_DECREF(hits); goto done; }
        for (Py_ssize_t d = 0; d < n && PyDict_GET_SIZE(hits) < k; d++)
            if (s[d] == 0 && PyDict_SetItem(hits, items[d], zero) < 0) {
                Py_DECREF(zero); Py_DECREF(hits); goto done;
            }
        Py_DECREF(zero);
    }
    res = hits;
done:
    release(b, 8);
    PyMem_Free(ranges);
    PyMem_Free(s);
    PyMem_Free(acc);
    PyMem_Free(keys);
    return res;
}

/* ---- analysis: Porter stemmer ------------------------------------------------------------
 * porter.py's `_stem_units` (Lucene's PorterStemmer) over a str of UTF-16-sized characters: on
 * a corpus with hundreds of thousands of distinct tokens the Python stemmer was most of the
 * first-sight cost. Same steps, same suffix tables, same order; porter.py stays the reference. */
typedef struct { const char *suf; const char *rep; } Rule;
static const Rule STEP3[] = {
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
    {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"}, {"ousli", "ous"},
    {"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"}, {"alism", "al"}, {"iveness", "ive"},
    {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"},
    {"logi", "log"}, {NULL, NULL}};
static const Rule STEP4[] = {
    {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"}, {"ical", "ic"}, {"ful", ""},
    {"ness", ""}, {NULL, NULL}};
static const char *const STEP5[] = {
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
    "ism", "ate", "iti", "ous", "ive", "ize", NULL};

#define PORTER_MAX 512
typedef struct { Py_UCS4 b[PORTER_MAX + 16]; int n; } Word;  /* room for the longest replacement */

static int p_cons(const Word *w, int i) {  /* Porter's consonant test, y by what precedes it */
    switch (w->b[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u': return 0;
    case 'y': return i == 0 ? 1 : !p_cons(w, i - 1);
    default: return 1;
    }
}
static int p_measure(const Word *w, int n) {  /* m of w->b[0..n) */
    int m = 0, prev = 1;
    for (int i = 0; i < n; i++) {
        int c = p_cons(w, i);
        if (c && !prev && i > 0) m++;
        prev = c;
    }
    return m;
}
static int p_has_vowel(const Word *w, int n) {
    for (int i = 0; i < n; i++) if (!p_cons(w, i)) return 1;
    return 0;
}
static int p_double(const Word *w, int n) {  /* w->b[0..n) ends in a double consonant */
    return n >= 2 && w->b[n - 1] == w->b[n - 2] && p_cons(w, n - 1);
}
static int p_cvc(const Word *w, int n) {
    if (n < 3) return 0;
    Py_UCS4 c = w->b[n - 1];
    return p_cons(w, n - 1) && !p_cons(w, n - 2) && p_cons(w, n - 3) && c != 'w' && c != 'x' && c != 'y';
}
static int p_ends(const Word *w, const char *s) {
    int l = (int)strlen(s);
    if (l > w->n) return 0;
    for (int i = 0; i < l; i++) if (w->b[w->n - l + i] != (Py_UCS4)(unsigned char)s[i]) return 0;
    return 1;
}
static void p_set(Word *w, int n, const char *s) {  /* w = w->b[0..n) + s */
    while (*s) w->b[n++] = (Py_UCS4)(unsigned char)*s++;
    w->n = n;
}
static void p_rules(Word *w, const Rule *rules, int key_pos) {
    Py_UCS4 key = w->b[w->n - key_pos];
    for (const Rule *r = rules; r->suf; r++) {
        int l = (int)strlen(r->suf);
        if ((Py_UCS4)(unsigned char)r->suf[l - key_pos] != key || !p_ends(w, r->suf)) continue;
        if (p_measure(w, w->n - l) > 0) p_set(w, w->n - l, r->rep);
        return;  /* the first suffix that matches ends the step */
    }
}
static void p_stem(Word *w) {
    /* step 1 */
    if (w->b[w->n - 1] == 's') {
        if (p_ends(w, "sses") || p_ends(w, "ies")) w->n -= 2;
        else if (w->b[w->n - 2] != 's') w->n -= 1;
    }
    if (p_ends(w, "eed")) {
        if (p_measure(w, w->n - 3) > 0) w->n -= 1;
    } else {
        int l = p_ends(w, "ed") ? 2 : p_ends(w, "ing") ? 3 : 0;
        if (l && p_has_vowel(w, w->n - l)) {
            int n = w->n - l;
            w->n = n;
            if (p_ends(w, "at") || p_ends(w, "bl") || p_ends(w, "iz")) p_set(w, n, "e");
            else if (p_double(w, n)) {
                Py_UCS4 c = w->b[n - 1];
                if (c != 'l' && c != 's' && c != 'z') w->n = n - 1;
            } else if (p_measure(w, n) == 1 && p_cvc(w, n)) p_set(w, n, "e");
        }
    }
    /* step 2 */
    if (w->b[w->n - 1] == 'y' && p_has_vowel(w, w->n - 1)) w->b[w->n - 1] = 'i';
    /* steps 3 and 4 */
    if (w->n > 1) p_rules(w, STEP3, 2);
    p_rules(w, STEP4, 1);
    /* step 5 */
    if (w->n >= 2) {
        Py_UCS4 key = w->b[w->n - 2];
        for (const char *const *s = STEP5; *s; s++) {
            int l = (int)strlen(*s);
            if ((Py_UCS4)(unsigned char)(*s)[l - 2] != key || !p_ends(w, *s)) continue;
            int n = w->n - l;
            if (!strcmp(*s, "ion") && !(n > 0 && (w->b[n - 1] == 's' || w->b[n - 1] == 't'))) break;
            if (p_measure(w, n) > 1) w->n = n;
            break;
        }
    }
    /* step 6 */
    if (w->n > 0 && w->b[w->n - 1] == 'e') {
        int m = p_measure(w, w->n);
        if (m > 1 || (m == 1 && !p_cvc(w, w->n - 1))) w->n -= 1;
    }
    if (w->n > 0 && w->b[w->n - 1] == 'l' && p_double(w, w->n) && p_measure(w, w->n) > 1) w->n -= 1;
}

static PyObject *porter_stem(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "porter_stem: a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    /* astral characters (Java sees surrogate pairs) and very long words: the caller's Python path */
    if (kind == PyUnicode_4BYTE_KIND || n > PORTER_MAX) Py_RETURN_NONE;
    if (n <= 2) return Py_NewRef(arg);  /* Porter's program leaves one- and two-letter words alone */
    Word w;
    const void *data = PyUnicode_DATA(arg);
    for (Py_ssize_t i = 0; i < n; i++) w.b[i] = PyUnicode_READ(kind, data, i);
    w.n = (int)n;
    p_stem(&w);
    if (w.n == n) {
        int same = 1;
        for (Py_ssize_t i = 0; i < n && same; i++) same = w.b[i] == PyUnicode_READ(kind, data, i);
        if (same) return Py_NewRef(arg);
    }
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, w.b, w.n);
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
    /* set by fast(): the miss callback's commonest case done here (see fast_ids) */
    PyObject *term_cache, *stop, *vocab, *terms, *known;
    int stemming;
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

/* TermIds.span_ids for the commonest spans without the call into Python: one ASCII word of
 * letters, digits and underscores between edge punctuation (_span_tokens' first case), or a
 * pure-ASCII span of at most MAX_TOKEN characters (its second case, _ASCII_TOKEN.findall). Same
 * term cache, possessive/lower/stop/stem steps and vocabulary as the Python code, which stays
 * the reference. On a big corpus nearly every first sight is such a span. */
static int is_edge(Py_UCS4 c) {
    return c == '.' || c == ',' || c == ':' || c == ';' || c == '\'' || c == '"' || c == 0x2018 ||
           c == 0x2019 || c == 0x201C || c == 0x201D;
}
#define MAX_TOKEN 255
#define IS_LET(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIG(c) ((c) >= '0' && (c) <= '9')
#define IS_WORD(c) (IS_LET(c) || IS_DIG(c) || (c) == '_')

/* id of the ASCII token raw[0..n) via _TermCache (1, *id set), none (0: stop word), or -1 */
static int token_id(SpanTable *t, const char *raw, Py_ssize_t n, int32_t *id) {
    PyObject *tok = PyUnicode_FromStringAndSize(raw, n);
    if (!tok) return -1;
    PyObject *term = PyDict_GetItemWithError(t->term_cache, tok);  /* _TermCache, without __missing__ */
    if (term) {
        Py_INCREF(term);
    } else if (PyErr_Occurred()) {
        Py_DECREF(tok);
        return -1;
    } else {  /* _TermCache.__missing__: possessive, lower case, stop words, stem */
        char low[MAX_TOKEN + 1];
        Py_ssize_t k = n;
        if (k >= 2 && (raw[k - 1] == 's' || raw[k - 1] == 'S') && raw[k - 2] == '\'') k -= 2;
        for (Py_ssize_t i = 0; i < k; i++) low[i] = raw[i] >= 'A' && raw[i] <= 'Z' ? raw[i] + 32 : raw[i];
        PyObject *lowered = PyUnicode_FromStringAndSize(low, k);
        int stop = lowered ? PySet_Contains(t->stop, lowered) : -1;
        if (stop < 0) term = NULL;
        else if (stop) term = Py_NewRef(Py_None);
        else if (t->stemming) term = porter_stem(NULL, lowered);
        else term = Py_NewRef(lowered);
        Py_XDECREF(lowered);
        if (!term || PyDict_SetItem(t->term_cache, tok, term) < 0) {
            Py_XDECREF(term);
            Py_DECREF(tok);
            return -1;
        }
    }
    Py_DECREF(tok);
    int found = 0;
    long v = 0;
    if (term != Py_None && PyUnicode_GET_LENGTH(term) > 0) {  /* filter(None, ...) drops "" too */
        PyObject *known = t->known ? t->known : t->vocab;
        PyObject *i = PyDict_GetItemWithError(known, term);
        if (i) {
            v = PyLong_AsLong(i);
            if (v == -1 && PyErr_Occurred()) { Py_DECREF(term); return -1; }
            if (t->known) v += 1;
            found = 1;
        } else if (PyErr_Occurred()) {
            Py_DECREF(term);
            return -1;
        } else if (!t->known) {  /* a new term gets the next id */
            if (PyList_Append(t->terms, term) < 0) { Py_DECREF(term); return -1; }
            v = (long)PyList_GET_SIZE(t->terms);
            PyObject *iv = PyLong_FromLong(v);
            if (!iv || PyDict_SetItem(t->vocab, term, iv) < 0) { Py_XDECREF(iv); Py_DECREF(term); return -1; }
            Py_DECREF(iv);
            found = 1;
        }
    }
    Py_DECREF(term);
    if (found && (v < 0 || v > INT32_MAX)) {
        PyErr_SetString(PyExc_OverflowError, "SpanTable: term id does not fit int32");
        return -1;
    }
    *id = (int32_t)v;
    return found;
}

/* 1 with ids[0..*m) set, 0: not such a span (the Python callback decides), -1: error.
 * ids has room for MAX_TOKEN + 1 ids. */
static int fast_ids(SpanTable *t, int kind, const void *data, Py_ssize_t st, Py_ssize_t n, int32_t *ids, int *m) {
    if (!t->term_cache) return 0;
    char raw[MAX_TOKEN + 1];
    *m = 0;
    Py_ssize_t a = st, b = st + n;
    while (a < b && is_edge(PyUnicode_READ(kind, data, a))) a++;
    while (b > a && is_edge(PyUnicode_READ(kind, data, b - 1))) b--;
    int one = b - a <= MAX_TOKEN, alnum = 0;
    for (Py_ssize_t i = a; i < b && one; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!IS_WORD(c)) one = 0;
        else if (c != '_') alnum = 1;
        raw[i - a] = (char)c;
    }
    if (one && alnum) {  /* case 1: the core is the one token */
        int r = token_id(t, raw, b - a, ids);
        if (r > 0) *m = 1;
        return r < 0 ? -1 : 1;
    }
    if (n > MAX_TOKEN) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, st + i);
        if (c >= 128) return 0;
        raw[i] = (char)c;
    }
    /* case 2: _ASCII_TOKEN.findall. A token is _* then a letter or digit, then word characters,
     * with ":" "." "'" between two letters and "," ";" "." "'" between two digits joining on. */
    Py_ssize_t i = 0;
    while (i < n) {
        Py_ssize_t j = i;
        while (j < n && raw[j] == '_') j++;
        if (j >= n || !(IS_LET(raw[j]) || IS_DIG(raw[j]))) { i = j + 1; continue; }
        Py_ssize_t k = j + 1;
        for (;;) {
            while (k < n && IS_WORD(raw[k])) k++;
            if (k + 1 < n && ((IS_LET(raw[k - 1]) && IS_LET(raw[k + 1]) && (raw[k] == ':' || raw[k] == '.' || raw[k] == '\'')) ||
                              (IS_DIG(raw[k - 1]) && IS_DIG(raw[k + 1]) &&
                               (raw[k] == ',' || raw[k] == ';' || raw[k] == '.' || raw[k] == '\''))))
                k++;
            else
                break;
        }
        int r = token_id(t, raw + i, k - i, ids + *m);
        if (r < 0) return -1;
        *m += r;
        i = k;
    }
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
        int32_t fids[MAX_TOKEN + 1];
        int fm = 0;
        int f = fast_ids(t, kind, data, st, n, fids, &fm);
        if (f < 0) { Py_DECREF(key); return -1; }
        PyObject *seq = NULL;
        Py_ssize_t m = f ? fm : 0;
        if (!f) {
            PyObject *res = PyObject_CallOneArg(t->miss, key);
            if (!res) { Py_DECREF(key); return -1; }
            seq = PySequence_Fast(res, "SpanTable: the miss callback must return a sequence of ints");
            Py_DECREF(res);
            if (!seq) { Py_DECREF(key); return -1; }
            m = PySequence_Fast_GET_SIZE(seq);
        }
        if (m > 0xFFFF || grow_i32(&t->pool, &t->pool_cap, t->pool_len + (m ? m : 1)) < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_OverflowError, "SpanTable: too many terms in one span");
            Py_XDECREF(seq); Py_DECREF(key); return -1;
        }
        if (f) memcpy(t->pool + t->pool_len, fids, (size_t)fm * sizeof(int32_t));
        for (Py_ssize_t i = 0; seq && i < m; i++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
            if (v == -1 && PyErr_Occurred()) { Py_DECREF(seq); Py_DECREF(key); return -1; }
            if (v < INT32_MIN || v > INT32_MAX) {
                Py_DECREF(seq); Py_DECREF(key);
                PyErr_SetString(PyExc_OverflowError, "SpanTable: term id does not fit int32");
                return -1;
            }
            t->pool[t->pool_len + i] = (int32_t)v;
        }
        Py_XDECREF(seq);
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

static PyObject *SpanTable_fast(SpanTable *t, PyObject *args) {
    PyObject *cache, *stop, *vocab, *terms, *known;
    int stemming;
    if (!PyArg_ParseTuple(args, "O!O!pO!O!O", &PyDict_Type, &cache, &PyFrozenSet_Type, &stop, &stemming,
                          &PyDict_Type, &vocab, &PyList_Type, &terms, &known)) return NULL;
    if (known != Py_None && !PyDict_Check(known)) {
        PyErr_SetString(PyExc_TypeError, "fast(): known must be a dict or None");
        return NULL;
    }
    Py_XSETREF(t->term_cache, Py_NewRef(cache));
    Py_XSETREF(t->stop, Py_NewRef(stop));
    Py_XSETREF(t->vocab, Py_NewRef(vocab));
    Py_XSETREF(t->terms, Py_NewRef(terms));
    Py_XSETREF(t->known, known == Py_None ? NULL : Py_NewRef(known));
    t->stemming = stemming;
    Py_RETURN_NONE;
}

static int SpanTable_traverse(SpanTable *t, visitproc visit, void *arg) {
    Py_VISIT(t->miss);
    Py_VISIT(t->term_cache);
    Py_VISIT(t->stop);
    Py_VISIT(t->vocab);
    Py_VISIT(t->terms);
    Py_VISIT(t->known);
    return 0;
}

static int SpanTable_tp_clear(SpanTable *t) {
    Py_CLEAR(t->miss);
    Py_CLEAR(t->term_cache);
    Py_CLEAR(t->stop);
    Py_CLEAR(t->vocab);
    Py_CLEAR(t->terms);
    Py_CLEAR(t->known);
    return 0;
}

static void SpanTable_dealloc(SpanTable *t) {
    PyObject_GC_UnTrack(t);
    table_clear(t);
    SpanTable_tp_clear(t);
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
    {"fast", (PyCFunction)SpanTable_fast, METH_VARARGS,
     "fast(term_cache, stopwords, stemming, vocab, terms, known) -> None: one-word spans without the callback"},
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
    {"search", search, METH_VARARGS, "One query's BM25 hits: scores, exclusions, top k and fill (see bm25.py)."},
    {"porter_stem", porter_stem, METH_O, "porter_stem(word) -> porter.py's stem, or None where it must decide (astral, long)"},
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
