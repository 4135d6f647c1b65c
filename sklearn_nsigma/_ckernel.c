/* Compiled Mahalanobis kernel: squared distances of rows to every component.
 *
 * An optional accelerator of sklearn_nsigma._distance. It computes exactly
 * what the NumPy path computes (same centring, same whitening, same
 * thresholds) with the rows of a tile in the lanes of SIMD vectors, so each
 * sample is read once, each nonzero factor entry costs one multiply-add per
 * row, and nothing of shape (n_samples, n_components, n_features) or
 * (n_features, n_samples) is ever formed.
 *
 * It uses GCC/Clang vector extensions; on x86-64 the AVX-512 and AVX2
 * instantiations are chosen at run time from the CPU (they load tiles with
 * the in-register transposes of _ckernel_transpose.h), and a baseline one
 * runs everywhere else. The GIL is released during the computation.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#define MODE_SQUARED 0
#define MODE_MIN_SCALED 1
#define MODE_WITHIN 2
#define MODE_WITHIN_EACH 3

/* tiles ahead of the current one whose rows are prefetched */
#ifndef PREFETCH_TILES
#define PREFETCH_TILES 8
#endif

/* GCC vector types of each width: 16 bytes for the baseline instantiation
 * (SSE2, NEON), 32 for AVX2, 64 for AVX-512. Vectors wider than the target's
 * registers would be split by the compiler, through memory. */
typedef double vf64x2 __attribute__((vector_size(16)));
typedef float vf32x4 __attribute__((vector_size(16)));
typedef double vf64x4 __attribute__((vector_size(32)));
typedef float vf32x8 __attribute__((vector_size(32)));
typedef double vf64x8 __attribute__((vector_size(64)));
typedef float vf32x16 __attribute__((vector_size(64)));

/* the widest vector: the size of the kernel's per-feature scratch */
#define MAX_VECTOR_BYTES 64

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_DISPATCH 1
#else
#define HAVE_X86_DISPATCH 0
#endif

#include "_ckernel_body.h"

/* The baseline kernels, and on x86-64 the AVX2 and AVX-512 ones, which
 * load tiles with the register transposes of _ckernel_transpose.h. On
 * x86-64 the baseline only serves CPUs without AVX2 (older than 2013), so it
 * takes the generic tiles alone; elsewhere (NEON) it is the kernel, with
 * tiles for small widths like the others. */
#if HAVE_X86_DISPATCH
#define BASELINE_WIDTHS NO_WIDTHS
#else
#define BASELINE_WIDTHS SMALL_WIDTHS
#endif
DEFINE_KERNEL(f64_generic, double, vf64x2, , f64_generic_gather,
              BASELINE_WIDTHS)
DEFINE_KERNEL(f32_generic, float, vf32x4, , f32_generic_gather,
              BASELINE_WIDTHS)
#if HAVE_X86_DISPATCH
#include "_ckernel_transpose.h"
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVX512_TARGET __attribute__((target("avx512f,fma")))
DEFINE_KERNEL(f64_avx2, double, vf64x4, AVX2_TARGET, f64_avx2_transpose,
              SMALL_WIDTHS)
DEFINE_KERNEL(f32_avx2, float, vf32x8, AVX2_TARGET, f32_avx2_transpose,
              SMALL_WIDTHS)
DEFINE_KERNEL(f64_avx512, double, vf64x8, AVX512_TARGET,
              f64_avx512_transpose, SMALL_WIDTHS)
DEFINE_KERNEL(f32_avx512, float, vf32x16, AVX512_TARGET,
              f32_avx512_transpose, SMALL_WIDTHS)
#endif

#include "_kernel_common.h"

/* Checks of the entry point: it is private, but no argument may make it
 * read or write outside its buffers, or misread them. */

/* a * b, or -1 (with ValueError set) when it overflows or is negative */
static Py_ssize_t
checked_product(Py_ssize_t a, Py_ssize_t b, const char *what)
{
    Py_ssize_t product;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &product)) {
        PyErr_Format(PyExc_ValueError,
                     "the size of %s overflows (%zd * %zd): refused", what, a,
                     b);
        return -1;
    }
    return product;
}

/* the product of `count` sizes, or -1 (with ValueError set) on overflow */
static Py_ssize_t
checked_size(const char *what, int count, const Py_ssize_t *factors)
{
    Py_ssize_t size = 1;
    int i;
    for (i = 0; i < count && size >= 0; i++) {
        size = checked_product(size, factors[i], what);
    }
    return size;
}

/* Whether a buffer format is one element of type `code` ('d' or 'f') in
 * native byte order. */
static int
native_format(const char *format, char code)
{
    if (format == NULL) {
        return 0; /* unsigned bytes */
    }
    if (format[0] == '@' || format[0] == '=' ||
        format[0] == (PY_LITTLE_ENDIAN ? '<' : '>')) {
        format++;
    }
    return format[0] == code && format[1] == '\0';
}

/* Refuse a buffer smaller than `needed` bytes, holding other elements than
 * native `code` ones (code 0: any one-byte elements), or not aligned to
 * its elements. */
static int
check_buffer(Py_buffer *buffer, Py_ssize_t needed, char code, const char *name)
{
    const Py_ssize_t item = code == 'd' ? (Py_ssize_t)sizeof(double)
                            : code == 'f' ? (Py_ssize_t)sizeof(float)
                                          : 1;
    if (code != 0 ? !native_format(buffer->format, code)
                  : buffer->itemsize != 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s must hold %s in native byte order, got format '%s'",
                     name,
                     code == 'd'   ? "float64 ('d')"
                     : code == 'f' ? "float32 ('f')"
                                   : "one-byte booleans",
                     buffer->format == NULL ? "B" : buffer->format);
        return -1;
    }
    if ((uintptr_t)buffer->buf % (uintptr_t)item != 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s is not aligned to its %zd-byte elements: copy it "
                     "first (numpy.require(%s, requirements='CA'))",
                     name, item, name);
        return -1;
    }
    if (buffer->len < needed) {
        PyErr_Format(PyExc_ValueError,
                     "%s holds %zd bytes; the kernel needs %zd", name,
                     buffer->len, needed);
        return -1;
    }
    return 0;
}

/* Refuse X that is not (n_samples, n_features), n_features being the width
 * of the model's arrays (center, bias). */
static int
check_X(Py_buffer *X, Py_ssize_t n_samples, Py_ssize_t n_features)
{
    if (X->ndim != 2 || X->shape == NULL) {
        PyErr_Format(PyExc_ValueError,
                     "X must be a 2-D array of shape (n_samples, n_features), "
                     "got %d dimension(s)",
                     X->ndim);
        return -1;
    }
    if (X->shape[1] != n_features) {
        PyErr_Format(PyExc_ValueError,
                     "X has %zd features, but the model (center, factors, "
                     "bias) has %zd: refused",
                     X->shape[1], n_features);
        return -1;
    }
    if (X->shape[0] != n_samples) {
        PyErr_Format(PyExc_ValueError,
                     "X has %zd rows, but n_samples is %zd", X->shape[0],
                     n_samples);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(compute_doc,
"compute(X, center, factors, bias, limits, out, n_samples, n_features,\n"
"        n_components, n_factors, structure, mode, single,\n"
"        instruction_set=None)\n"
"--\n\n"
"Squared Mahalanobis distances of C-contiguous rows, reduced by ``mode``.\n\n"
"All arrays are C-contiguous, aligned buffers of the computation's dtype\n"
"in native byte order (float32 when ``single`` else float64), except\n"
"``out`` in the boolean modes (one byte per value). X has shape\n"
"(n_samples, n_features), and ``center`` n_features values exactly.\n"
"``factors`` holds ``n_factors`` (1 when tied, else n_components) matrices\n"
"G with y_j = sum_i G[i, j] (x_i - center_i) - bias[k, j] (G is the\n"
"precision Cholesky factor); ``structure`` is 0 (dense G), 1 (upper\n"
"triangular G) or 2 (diagonal G). ``mode``: 0\n"
"squared distances (n_samples, n_components); 1 the minimum over the\n"
"components with finite limits[k] of limits[k] * squared (n_samples,);\n"
"2 any(squared <= limits) (n_samples,) bool; 3 squared <= limits\n"
"(n_samples, n_components) bool. ``out`` may not overlap X, except as X\n"
"itself with rows of the same size (each row is read before its result\n"
"is written). Any other argument raises ValueError, sizes that overflow\n"
"included.\n\n"
"``instruction_set`` (one of ``supported_instruction_sets()``) overrides\n"
"the CPU's best one, so tests can run every code path.\n\n"
"Returns whether every value of X is finite (no NaN, no infinity); the\n"
"outputs of rows holding a non-finite value are then meaningless.");

#define N_BUFFERS 6

static PyObject *
compute(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer X, center, factors, bias, limits, out;
    Py_buffer *const buffers[N_BUFFERS] = {&X,    &center, &factors,
                                           &bias, &limits, &out};
    PyObject *objects[N_BUFFERS];
    int acquired = 0;
    Py_ssize_t n_samples, n_features, n_components, n_factors;
    int structure, mode, single;
    Py_ssize_t item, out_item, out_per_row;
    void *features = NULL;
    void *padded = NULL;
    int failed = 0;
    const char *isa_name = NULL;
    int isa = -1;
    int finite = 1;

    if (!PyArg_ParseTuple(args, "OOOOOOnnnniip|z", &objects[0], &objects[1],
                          &objects[2], &objects[3], &objects[4], &objects[5],
                          &n_samples, &n_features, &n_components, &n_factors,
                          &structure, &mode, &single, &isa_name)) {
        return NULL;
    }
    for (acquired = 0; acquired < N_BUFFERS; acquired++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
        if (acquired == N_BUFFERS - 1) {
            flags |= PyBUF_WRITABLE; /* out */
        }
        if (PyObject_GetBuffer(objects[acquired], buffers[acquired], flags) <
            0) {
            failed = 1;
            break;
        }
    }
    if (isa_name == NULL) {
        isa = best_instruction_set();
    }
    else {
        int candidate;
        for (candidate = 0; candidate < N_INSTRUCTION_SETS; candidate++) {
            if (strcmp(isa_name, instruction_sets[candidate]) == 0 &&
                cpu_supports(candidate)) {
                isa = candidate;
            }
        }
    }
    item = single ? (Py_ssize_t)sizeof(float) : (Py_ssize_t)sizeof(double);
    out_item = (mode == MODE_WITHIN || mode == MODE_WITHIN_EACH) ? 1 : item;
    out_per_row =
        (mode == MODE_SQUARED || mode == MODE_WITHIN_EACH) ? n_components : 1;
    if (failed) {
        /* a buffer was refused: its error is set */
    }
    else if (isa < 0) {
        PyErr_Format(PyExc_ValueError,
                     "instruction_set=%R is not one this CPU supports",
                     PyTuple_GET_ITEM(args, PyTuple_GET_SIZE(args) - 1));
        failed = 1;
    }
    else if (n_samples < 0 || n_features < 1 || n_components < 1 ||
             (n_factors != 1 && n_factors != n_components) || structure < 0 ||
             structure > 2 || mode < 0 || mode > 3) {
        PyErr_SetString(PyExc_ValueError, "invalid kernel dimensions or mode");
        failed = 1;
    }
    else {
        const char code = single ? 'f' : 'd';
        const char out_code = out_item == 1 ? 0 : code;
        const Py_ssize_t x_dims[] = {n_samples, n_features, item};
        const Py_ssize_t center_dims[] = {n_features, item};
        const Py_ssize_t factor_dims[] = {n_factors, n_features, n_features,
                                          item};
        const Py_ssize_t bias_dims[] = {n_components, n_features, item};
        const Py_ssize_t limit_dims[] = {n_components, item};
        const Py_ssize_t out_dims[] = {n_samples, out_per_row, out_item};
        /* the kernel's scratch: one vector per feature, twice */
        const Py_ssize_t scratch_dims[] = {n_features, MAX_VECTOR_BYTES};
        Py_ssize_t x_size, center_size, factor_size, bias_size, limit_size,
            out_size, scratch;
        /* the first product that overflows is refused */
        if ((x_size = checked_size("X", 3, x_dims)) < 0 ||
            (center_size = checked_size("center", 2, center_dims)) < 0 ||
            (factor_size = checked_size("factors", 4, factor_dims)) < 0 ||
            (bias_size = checked_size("bias", 3, bias_dims)) < 0 ||
            (limit_size = checked_size("limits", 2, limit_dims)) < 0 ||
            (out_size = checked_size("out", 3, out_dims)) < 0 ||
            (scratch = checked_size("scratch", 2, scratch_dims)) < 0) {
            failed = 1;
        }
        else if (check_buffer(&X, x_size, code, "X") ||
                 check_X(&X, n_samples, n_features) ||
                 check_buffer(&center, center_size, code, "center") ||
                 check_buffer(&factors, factor_size, code, "factors") ||
                 check_buffer(&bias, bias_size, code, "bias") ||
                 check_buffer(&limits, limit_size, code, "limits") ||
                 check_buffer(&out, out_size, out_code, "out")) {
            failed = 1;
        }
        else if (center.len != center_size) {
            /* n_features is the model's width: X's must agree with it */
            PyErr_Format(PyExc_ValueError,
                         "center holds %zd values, but n_features is %zd: X "
                         "must have one column per feature of the model",
                         center.len / item, n_features);
            failed = 1;
        }
        else if (overlap(&out, &X) &&
                 !(out.buf == X.buf &&
                   out_per_row * out_item == n_features * item)) {
            PyErr_SetString(PyExc_ValueError,
                            "out overlaps X (other than as X itself, row for "
                            "row): results would overwrite rows not read yet");
            failed = 1;
        }
        else {
            /* one vector per feature, aligned for the widest vector type */
            features = aligned_alloc(MAX_VECTOR_BYTES, (size_t)scratch);
            /* the last partial tile, padded with zeros to a full one */
            padded = malloc((size_t)scratch);
            if (features == NULL || padded == NULL) {
                PyErr_NoMemory();
                failed = 1;
            }
        }
    }
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS
#define CALL(prefix, REAL, VREAL)                                             \
    finite = prefix##_rows(                                                   \
        (const REAL *)X.buf, n_samples, n_features, (const REAL *)center.buf, \
        (const REAL *)factors.buf, n_factors, structure,                      \
        (const REAL *)bias.buf, n_components, mode, (const REAL *)limits.buf, \
        out.buf, (VREAL *)features, (REAL *)padded)
#if HAVE_X86_DISPATCH
        if (isa == 0) {
            if (single) CALL(f32_avx512, float, vf32x16);
            else CALL(f64_avx512, double, vf64x8);
        }
        else if (isa == 1) {
            if (single) CALL(f32_avx2, float, vf32x8);
            else CALL(f64_avx2, double, vf64x4);
        }
        else
#endif
        {
            if (single) CALL(f32_generic, float, vf32x4);
            else CALL(f64_generic, double, vf64x2);
        }
#undef CALL
        Py_END_ALLOW_THREADS
    }
    free(features);
    free(padded);
    while (acquired > 0) {
        PyBuffer_Release(buffers[--acquired]);
    }
    if (failed) {
        return NULL;
    }
    return PyBool_FromLong(finite);
}

static PyObject *
get_instruction_set(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    return PyUnicode_FromString(instruction_sets[best_instruction_set()]);
}

static PyObject *
get_supported_instruction_sets(PyObject *Py_UNUSED(self),
                               PyObject *Py_UNUSED(unused))
{
    PyObject *names = PyList_New(0);
    int isa;
    if (names == NULL) {
        return NULL;
    }
    for (isa = 0; isa < N_INSTRUCTION_SETS; isa++) {
        if (cpu_supports(isa)) {
            PyObject *name = PyUnicode_FromString(instruction_sets[isa]);
            if (name == NULL || PyList_Append(names, name) < 0) {
                Py_XDECREF(name);
                Py_DECREF(names);
                return NULL;
            }
            Py_DECREF(name);
        }
    }
    return names;
}

static PyMethodDef methods[] = {
    {"compute", compute, METH_VARARGS, compute_doc},
    {"instruction_set", get_instruction_set, METH_NOARGS,
     "The instruction set the kernel runs with on this CPU."},
    {"supported_instruction_sets", get_supported_instruction_sets,
     METH_NOARGS, "Every instruction set this CPU runs, best first."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ckernel",
    "Compiled tile kernel for Mahalanobis distances.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__ckernel(void)
{
    return PyModule_Create(&module);
}
