/* Compiled EM steps of a Gaussian mixture, for a chunk of rows.
 *
 * An optional accelerator of sklearn_nsigma._em_estep and _em_moments.
 * From the squared Mahalanobis distances of a chunk (computed by the distance kernel) it
 * takes the log-sum-exp of every row, writes the log-responsibilities in
 * place, sums log p(x_i), and, while the chunk is in cache, adds the sums
 * the next M-step needs: for every component the sum of the
 * responsibilities, of r (x - c) and of the second moments r (x - c)(x - c)^T
 * (all pairs for full, squares for diag and spherical). It can also take
 * given (log-)responsibilities and add their sums only. Everything is
 * computed and accumulated in float64, for float32 input too.
 *
 * It uses GCC/Clang vector extensions; on x86-64 the AVX-512 and AVX2
 * instantiations are chosen at run time from the CPU, and a baseline one
 * (SSE2, NEON) runs everywhere else. The GIL is released during the
 * computation.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EM_HEAD_NONE 0
#define EM_HEAD_SQUARES 1
#define EM_HEAD_PAIRS 2

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_DISPATCH 1
#else
#define HAVE_X86_DISPATCH 0
#endif

/* What one call computes (see em_chunk_doc). */
struct em_problem {
    const void *X;
    int x_single;
    void *values; /* read, and written in mode 0 */
    int values_single;
    void *norm; /* NULL, or n_samples values of the dtype of `values` */
    const double *offsets;
    const double *center;
    double *sums;  /* NULL (no moments) or (n_components, n_columns) */
    double *pairs; /* NULL or the n_features (n_features + 1) / 2 pairs */
    Py_ssize_t n_samples, n_features, n_components, n_head;
    int mode, head, entropy;
};

/* The work buffers of one call, in float64, for sub-chunks of `rows` rows:
 * the (n, K) values component-major (lp, expo, resp: one row of ms values
 * per component), the design rows row-major (design: p_pad values each). */
struct em_work {
    Py_ssize_t rows, ms, k_pad, p_pad, n_pairs_pad;
    double *block, *lp, *expo, *shift, *sums, *logs, *resp, *design, *x, *S,
        *pairs, *pair_row, *tiled_center;
    double log_total, entropy;
};

/* n float64 values into a float32 or float64 buffer, from `offset` on */
static void
em_save(const double *values, Py_ssize_t n, void *target, int single,
        Py_ssize_t offset)
{
    Py_ssize_t i;
    if (single) {
        float *t = (float *)target + offset;
        for (i = 0; i < n; i++) {
            t[i] = (float)values[i];
        }
    }
    else {
        memcpy((double *)target + offset, values, (size_t)n * sizeof(double));
    }
}

/* The Taylor series of exp(r) to r^13, highest power first, and the odd
 * series of atanh(z) / z - 1 in z^2 (1/3, 1/5, ... 1/23), highest first:
 * the polynomials of the vectorised exp and log. */
#define EM_EXP_TERMS 14
static const double em_exp_taylor[EM_EXP_TERMS] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
    1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
    1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
    1.0 / 24.0,         1.0 / 6.0,         0.5,
    1.0,                1.0};
#define EM_LOG_TERMS 11
static const double em_log_atanh[EM_LOG_TERMS] = {
    1.0 / 23.0, 1.0 / 21.0, 1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0,
    1.0 / 11.0, 1.0 / 9.0,  1.0 / 7.0,  1.0 / 5.0,  1.0 / 3.0};

/* X-macro lists of the sizes with loops of their own (unrolled) */
#define EM_UP_TO_8(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8)
#define EM_UP_TO_12(X) EM_UP_TO_8(X) X(9) X(10) X(11) X(12)

typedef double vf64x2 __attribute__((vector_size(16)));
typedef long long vi64x2 __attribute__((vector_size(16)));
typedef double vf64x4 __attribute__((vector_size(32)));
typedef long long vi64x4 __attribute__((vector_size(32)));
typedef double vf64x8 __attribute__((vector_size(64)));
typedef long long vi64x8 __attribute__((vector_size(64)));
/* the widest vector, in doubles: the padding of the work buffers */
#define MAX_LANES 8

#define EM_NAME(name) generic_##name
#define EM_VEC vf64x2
#define EM_IVEC vi64x2
#define EM_TARGET
#define EM_LANES(v) {v, v}
#include "_emkernel_body.h"
#undef EM_NAME
#undef EM_VEC
#undef EM_IVEC
#undef EM_TARGET
#undef EM_LANES

#if HAVE_X86_DISPATCH
#define EM_NAME(name) avx2_##name
#define EM_VEC vf64x4
#define EM_IVEC vi64x4
#define EM_TARGET __attribute__((target("avx2,fma")))
#define EM_LANES(v) {v, v, v, v}
#include "_emkernel_body.h"
#undef EM_NAME
#undef EM_VEC
#undef EM_IVEC
#undef EM_TARGET
#undef EM_LANES

#define EM_NAME(name) avx512_##name
#define EM_VEC vf64x8
#define EM_IVEC vi64x8
#define EM_TARGET __attribute__((target("avx512f,fma")))
#define EM_LANES(v) {v, v, v, v, v, v, v, v}
#include "_emkernel_body.h"
#undef EM_NAME
#undef EM_VEC
#undef EM_IVEC
#undef EM_TARGET
#undef EM_LANES
#endif

#include "_kernel_common.h"

/* round n up to a multiple of `to` */
static Py_ssize_t
round_up(Py_ssize_t n, Py_ssize_t to)
{
    return (n + to - 1) / to * to;
}

#define N_WORK 13

/* Allocate the work buffers (zeroed, each 64-byte aligned); -1 on failure
 * (the caller frees w->block, the start of the allocation, either way). */
static int
em_allocate(struct em_work *w, const struct em_problem *pb)
{
    const Py_ssize_t K = pb->n_components, d = pb->n_features;
    const Py_ssize_t n_columns = pb->n_head + d + 1;
    Py_ssize_t sizes[N_WORK], total = 0, rows, ms, j;
    double *block, *cursor;
    double **targets[N_WORK] = {
        &w->block, &w->lp,     &w->expo, &w->shift, &w->sums,
        &w->logs,   &w->resp,   &w->design, &w->x,   &w->S,
        &w->pairs,  &w->pair_row, &w->tiled_center};
    int i;
    w->k_pad = round_up(K, 4);
    w->p_pad = round_up(n_columns, MAX_LANES);
    w->n_pairs_pad = round_up(d * (d + 1) / 2, MAX_LANES);
    rows = 4096 / (w->p_pad > w->k_pad ? w->p_pad : w->k_pad);
    w->rows = rows = rows < 8 ? 8 : rows > 256 ? 256 : rows;
    w->ms = ms = round_up(rows, MAX_LANES);
    sizes[0] = 0; /* the start of the allocation */
    sizes[1] = K * ms;
    sizes[2] = K * ms;
    sizes[3] = ms;
    sizes[4] = ms;
    sizes[5] = ms;
    sizes[6] = w->k_pad * ms;
    /* whole vectors are stored past a design row, and read past a row of x */
    sizes[7] = rows * w->p_pad + MAX_LANES;
    sizes[8] = rows * d + MAX_LANES;
    sizes[9] = w->k_pad * w->p_pad;
    sizes[10] = w->n_pairs_pad;
    sizes[11] = w->n_pairs_pad + MAX_LANES;
    sizes[12] = rows * d;
    for (i = 0; i < N_WORK; i++) {
        sizes[i] = round_up(sizes[i], MAX_LANES);
        total += sizes[i];
    }
    block = aligned_alloc(64, (size_t)total * sizeof(double));
    w->block = block;
    if (block == NULL) {
        return -1;
    }
    memset(block, 0, (size_t)total * sizeof(double));
    cursor = block;
    for (i = 0; i < N_WORK; i++) {
        *targets[i] = cursor;
        cursor += sizes[i];
    }
    /* the centre, repeated for every row of a sub-chunk */
    for (j = 0; j < rows * d; j++) {
        w->tiled_center[j] = pb->center[j % d];
    }
    w->log_total = 0.0;
    w->entropy = 0.0;
    return 0;
}

/* -- argument checks: the entry point is private, but no argument may make
 * it read or write outside its buffers ------------------------------------ */

/* Whether a buffer's format is native float64 ('d') or float32 ('f'):
 * 'd', 'f', or 0 for anything else. */
static char
float_format(const Py_buffer *buffer)
{
    const char *format = buffer->format;
    if (format == NULL) {
        return 0;
    }
    if (format[0] == '@' || format[0] == '=' ||
        format[0] == (PY_LITTLE_ENDIAN ? '<' : '>')) {
        format++;
    }
    if ((format[0] == 'd' || format[0] == 'f') && format[1] == '\0') {
        return format[0];
    }
    return 0;
}

/* Refuse a buffer that is not an aligned array of `ndim` dimensions with the
 * given shape (-1: any), of float64 (code 'd'), float32 ('f') or either (0);
 * its code is returned through `code`. */
static int
check_array(const Py_buffer *b, const char *name, int ndim,
            const Py_ssize_t *shape, char *code)
{
    const char found = float_format(b);
    int i;
    if (found == 0 || (*code != 0 && found != *code)) {
        PyErr_Format(PyExc_ValueError, "%s must hold %s in native byte order",
                     name,
                     *code == 'd'   ? "float64"
                     : *code == 'f' ? "float32"
                                    : "float32 or float64");
        return -1;
    }
    *code = found;
    if (b->ndim != ndim || b->shape == NULL) {
        PyErr_Format(PyExc_ValueError, "%s must have %d dimension(s), got %d",
                     name, ndim, b->ndim);
        return -1;
    }
    for (i = 0; i < ndim; i++) {
        if (shape[i] >= 0 && b->shape[i] != shape[i]) {
            PyErr_Format(PyExc_ValueError,
                         "%s has %zd values along axis %d; %zd expected", name,
                         b->shape[i], i, shape[i]);
            return -1;
        }
    }
    if ((uintptr_t)b->buf % (uintptr_t)b->itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s is not aligned to its elements",
                     name);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(em_chunk_doc,
"em_chunk(X, values, offsets, center, sums, pairs, norm, mode, head,\n"
"         entropy, instruction_set=None)\n"
"--\n\n"
"One E-step (and the next M-step's sums) over a chunk of rows.\n\n"
"X is a C-contiguous (n, d) array and ``values`` a C-contiguous (n, K)\n"
"one, each float32 or float64 in native byte order. ``mode`` says what\n"
"``values`` holds: 0 the squared Mahalanobis distances, replaced in place\n"
"by the log-responsibilities of log-probabilities\n"
"``offsets[k] - values[i, k] / 2``; 1 log-responsibilities; 2\n"
"responsibilities (1 and 2 are only read). ``offsets`` (K,) and\n"
"``center`` (d,) are float64. ``norm`` is None or an (n,) array of the\n"
"dtype of ``values`` that receives log p(x_i) (mode 0). ``sums`` is None\n"
"or a float64 (K, P) array to which, for every component k, the sums over\n"
"the rows of r[i, k] * [head(u), u, 1] are added, u = X[i] - center and\n"
"P = n_head + d + 1; ``head`` 0 adds no head, 1 the squares u_a^2 (n_head\n"
"= d), 2 the products u_a u_b, a <= b, row-major (n_head = d (d + 1) /\n"
"2). ``pairs`` is None or a float64 array of d (d + 1) / 2 values to which\n"
"the unweighted products u_a u_b, a <= b, are added (with ``sums`` only).\n"
"With ``entropy`` the sum of r * log r is returned (modes 0 and 1).\n\n"
"``instruction_set`` (one of the distance kernel's\n"
"``_ckernel.supported_instruction_sets()``: the same names, the same\n"
"detection) overrides the CPU's best one, so tests can run every code\n"
"path.\n\n"
"Returns ``(sum of log p(x_i), sum of r log r)`` (0.0 where not computed).\n"
"The outputs may not overlap each other or the inputs; any other\n"
"argument raises ValueError.");

#define N_ARRAYS 7

static PyObject *
em_chunk(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *objects[N_ARRAYS];
    Py_buffer buffers[N_ARRAYS];
    int held[N_ARRAYS] = {0};
    static const char *const names[N_ARRAYS] = {
        "X", "values", "offsets", "center", "sums", "pairs", "norm"};
    enum { X_, VALUES, OFFSETS, CENTER, SUMS, PAIRS, NORM };
    struct em_problem pb;
    struct em_work w;
    const char *isa_name = NULL;
    int mode, head, entropy, isa = -1, i, j, failed = 0;
    char codes[N_ARRAYS] = {0, 0, 'd', 'd', 'd', 'd', 0};
    Py_ssize_t n, d, K, n_pairs;

    memset(&w, 0, sizeof w);
    if (!PyArg_ParseTuple(args, "OOOOOOOiip|z", &objects[0], &objects[1],
                          &objects[2], &objects[3], &objects[4], &objects[5],
                          &objects[6], &mode, &head, &entropy, &isa_name)) {
        return NULL;
    }
    if (mode < 0 || mode > 2 || head < 0 || head > 2 ||
        (entropy && mode == 2) || (objects[NORM] != Py_None && mode != 0) ||
        (objects[PAIRS] != Py_None && objects[SUMS] == Py_None)) {
        PyErr_SetString(PyExc_ValueError,
                        "invalid mode, head, entropy, norm or pairs");
        return NULL;
    }
    if (isa_name == NULL) {
        isa = best_instruction_set();
    }
    else {
        for (i = 0; i < N_INSTRUCTION_SETS; i++) {
            if (strcmp(isa_name, instruction_sets[i]) == 0 && cpu_supports(i)) {
                isa = i;
            }
        }
        if (isa < 0) {
            PyErr_Format(PyExc_ValueError,
                         "instruction_set=%s is not one this CPU supports",
                         isa_name);
            return NULL;
        }
    }
    for (i = 0; i < N_ARRAYS && !failed; i++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
        if (objects[i] == Py_None) {
            if (i < SUMS) {
                PyErr_Format(PyExc_ValueError, "%s may not be None", names[i]);
                failed = 1;
            }
            continue;
        }
        if (i >= SUMS || (i == VALUES && mode == 0)) {
            flags |= PyBUF_WRITABLE;
        }
        if (PyObject_GetBuffer(objects[i], &buffers[i], flags) < 0) {
            failed = 1;
        }
        else {
            held[i] = 1;
        }
    }
    if (!failed) {
        const Py_ssize_t any = -1;
        Py_ssize_t shape[2] = {any, any};
        failed = check_array(&buffers[X_], "X", 2, shape, &codes[X_]);
        n = failed ? 0 : buffers[X_].shape[0];
        d = failed ? 0 : buffers[X_].shape[1];
        shape[0] = n;
        failed = failed || check_array(&buffers[VALUES], "values", 2, shape,
                                       &codes[VALUES]);
        K = failed ? 0 : buffers[VALUES].shape[1];
        n_pairs = d * (d + 1) / 2;
        shape[0] = K;
        failed = failed || check_array(&buffers[OFFSETS], "offsets", 1, shape,
                                       &codes[OFFSETS]);
        shape[0] = d;
        failed = failed || check_array(&buffers[CENTER], "center", 1, shape,
                                       &codes[CENTER]);
        if (!failed && d < 1) {
            PyErr_SetString(PyExc_ValueError, "X has no feature");
            failed = 1;
        }
        if (!failed && K < 1) {
            PyErr_SetString(PyExc_ValueError, "values has no component");
            failed = 1;
        }
        if (!failed && (d > 4096 || K > (1 << 20))) {
            PyErr_SetString(PyExc_ValueError, "too many features or components");
            failed = 1;
        }
        pb.n_head = head == EM_HEAD_PAIRS ? n_pairs : head == EM_HEAD_SQUARES ? d : 0;
        if (!failed && held[SUMS]) {
            shape[0] = K;
            shape[1] = pb.n_head + d + 1;
            failed = check_array(&buffers[SUMS], "sums", 2, shape, &codes[SUMS]);
        }
        if (!failed && held[PAIRS]) {
            shape[0] = n_pairs;
            failed = check_array(&buffers[PAIRS], "pairs", 1, shape,
                                 &codes[PAIRS]);
        }
        if (!failed && held[NORM]) {
            codes[NORM] = codes[VALUES];
            shape[0] = n;
            failed = check_array(&buffers[NORM], "norm", 1, shape, &codes[NORM]);
        }
    }
    for (i = 0; i < N_ARRAYS && !failed; i++) {
        for (j = i + 1; j < N_ARRAYS && !failed; j++) {
            const int written_i = i >= SUMS || (i == VALUES && mode == 0);
            const int written_j = j >= SUMS || (j == VALUES && mode == 0);
            if (held[i] && held[j] && (written_i || written_j) &&
                overlap(&buffers[i], &buffers[j])) {
                PyErr_Format(PyExc_ValueError, "%s overlaps %s", names[i],
                             names[j]);
                failed = 1;
            }
        }
    }
    if (!failed) {
        pb.X = buffers[X_].buf;
        pb.x_single = codes[X_] == 'f';
        pb.values = buffers[VALUES].buf;
        pb.values_single = codes[VALUES] == 'f';
        pb.norm = held[NORM] ? buffers[NORM].buf : NULL;
        pb.offsets = (const double *)buffers[OFFSETS].buf;
        pb.center = (const double *)buffers[CENTER].buf;
        pb.sums = held[SUMS] ? (double *)buffers[SUMS].buf : NULL;
        pb.pairs = held[PAIRS] ? (double *)buffers[PAIRS].buf : NULL;
        pb.n_samples = n;
        pb.n_features = d;
        pb.n_components = K;
        pb.mode = mode;
        pb.head = head;
        pb.entropy = entropy;
        if (em_allocate(&w, &pb) < 0) {
            PyErr_NoMemory();
            failed = 1;
        }
    }
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS
#if HAVE_X86_DISPATCH
        if (isa == 0) {
            avx512_rows(&pb, &w);
        }
        else if (isa == 1) {
            avx2_rows(&pb, &w);
        }
        else
#endif
        {
            generic_rows(&pb, &w);
        }
        if (pb.sums != NULL) {
            const Py_ssize_t n_columns = pb.n_head + d + 1;
            Py_ssize_t k, c;
            for (k = 0; k < K; k++) {
                for (c = 0; c < n_columns; c++) {
                    pb.sums[k * n_columns + c] += w.S[k * w.p_pad + c];
                }
            }
        }
        if (pb.pairs != NULL) {
            Py_ssize_t c; /* w.pairs holds the first n_pairs of n_pairs_pad */
            for (c = 0; c < n_pairs; c++) {
                pb.pairs[c] += w.pairs[c];
            }
        }
        Py_END_ALLOW_THREADS
    }
    free(w.block);
    for (i = N_ARRAYS - 1; i >= 0; i--) {
        if (held[i]) {
            PyBuffer_Release(&buffers[i]);
        }
    }
    if (failed) {
        return NULL;
    }
    return Py_BuildValue("(dd)", w.log_total, w.entropy);
}

static PyMethodDef methods[] = {
    {"em_chunk", em_chunk, METH_VARARGS, em_chunk_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_emkernel",
    "Compiled E-step log-sum-exp and M-step sums of Gaussian mixtures.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__emkernel(void)
{
    return PyModule_Create(&module);
}
