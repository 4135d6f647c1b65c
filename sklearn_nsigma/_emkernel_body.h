/* The EM chunk kernel, included once per instruction set by _emkernel.c with
 *
 *   EM_NAME(name)  the name of a function of this instantiation
 *   EM_VEC         a GCC vector of doubles, as wide as the target's registers
 *   EM_IVEC        a GCC vector of int64 of the same size
 *   EM_TARGET      a function attribute selecting the instruction set
 *   EM_LANES(v)    the initializer of an EM_VEC with v in every lane
 *
 * Everything is computed in float64 whatever the dtype of X and of the
 * (n, K) values, and the rows are processed in sub-chunks small enough for
 * the work buffers to stay in the first levels of cache:
 *
 *   1. log-responsibilities: the log-probabilities offsets[k] - sq[i, k] / 2
 *      shifted by each row's maximum, their exponentials (a vectorised exp
 *      over the flat sub-chunk), each row's sum s_i and its logarithm (a
 *      vectorised log); log p(x_i) = max_i + log s_i, the log-responsibility
 *      log-prob - log p(x_i) and the responsibility exp(...) / s_i.
 *   2. moments: rows u = x - center laid out with their products, the
 *      "design" row [head(u), u, 1] (head: the upper triangle of u u^T for
 *      full, u^2 for diag, nothing for tied), and S += R^T D accumulated by a
 *      register-blocked outer-product kernel (4 components by 3 vectors of
 *      columns), the same arithmetic as a GEMM with its inner dimension
 *      along the rows.
 */

#define EM_W ((Py_ssize_t)(sizeof(EM_VEC) / sizeof(double)))

EM_TARGET static inline EM_VEC
EM_NAME(splat)(double value)
{
    /* a broadcast: not 0 + value, an addition (-0.0 + 0 is +0.0) */
    const EM_VEC v = EM_LANES(value);
    return v;
}

EM_TARGET static inline EM_VEC
EM_NAME(load)(const double *p)
{
    EM_VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

EM_TARGET static inline void
EM_NAME(store)(double *p, EM_VEC v)
{
    memcpy(p, &v, sizeof v);
}

/* lanes of `mask` (all ones or zeros) take `a`, the others `b` */
EM_TARGET static inline EM_VEC
EM_NAME(select)(EM_IVEC mask, EM_VEC a, EM_VEC b)
{
    return (EM_VEC)(((EM_IVEC)a & mask) | ((EM_IVEC)b & ~mask));
}

/* c[0] x^(n-1) + c[1] x^(n-2) + ... + c[n-1], by Horner's rule */
EM_TARGET static inline __attribute__((always_inline)) EM_VEC
EM_NAME(horner)(EM_VEC x, const double *c, int n)
{
    EM_VEC p = EM_NAME(splat)(c[0]);
    int i;
#pragma GCC unroll 16
    for (i = 1; i < n; i++) {
        p = p * x + c[i];
    }
    return p;
}

/* exp(x), to about 1 ulp; 0 below -708 (where exp is subnormal or zero)
 * and for NaN, exp(709) above 709. */
EM_TARGET static inline EM_VEC
EM_NAME(exp)(EM_VEC x)
{
    const EM_VEC shifter = EM_NAME(splat)(0x1.8p52);
    const EM_IVEC keep = (EM_IVEC)(x > EM_NAME(splat)(-708.0));
    EM_VEC xc, k, n, r, p;
    EM_IVEC scale;
    xc = EM_NAME(select)(keep, x, EM_NAME(splat)(-708.0));
    xc = EM_NAME(select)((EM_IVEC)(xc < EM_NAME(splat)(709.0)), xc,
                         EM_NAME(splat)(709.0));
    /* n = round(x / ln 2), as the low bits of k */
    k = xc * EM_NAME(splat)(0x1.71547652b82fep0) + shifter;
    n = k - shifter;
    r = xc - n * EM_NAME(splat)(0x1.62e42fee00000p-1);
    r = r - n * EM_NAME(splat)(0x1.a39ef35793c76p-33);
    /* exp(r), |r| <= ln(2) / 2: Taylor series to r^13 (error < 1e-17) */
    p = EM_NAME(horner)(r, em_exp_taylor, EM_EXP_TERMS);
    /* 2^n: n + 1023 in the exponent field (the bits of k hold n + 2^51 +
     * 2^52, whose high bits the shift drops) */
    scale = ((EM_IVEC)k + 1023) << 52;
    return (EM_VEC)((EM_IVEC)(p * (EM_VEC)scale) & keep);
}

/* log(s) for normal positive finite s, to about 1 ulp (others: garbage,
 * which the caller replaces) */
EM_TARGET static inline EM_VEC
EM_NAME(log)(EM_VEC s)
{
    const EM_IVEC bits = (EM_IVEC)s;
    EM_IVEC e = (bits >> 52) - 1023;
    EM_VEC m = (EM_VEC)((bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);
    const EM_IVEC big = (EM_IVEC)(m > EM_NAME(splat)(1.4142135623730951));
    EM_VEC z, z2, p, exponent;
    /* m in [sqrt(1/2), sqrt(2)) */
    m = EM_NAME(select)(big, m * 0.5, m);
    e = e - big; /* big is -1 where m was halved */
    /* log m = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172 */
    z = (m - 1.0) / (m + 1.0);
    z2 = z * z;
    p = EM_NAME(horner)(z2, em_log_atanh, EM_LOG_TERMS);
    p = p * z2;
    /* the exponent as a double: e + 1.5 * 2^52, then less the 1.5 * 2^52 */
    exponent = (EM_VEC)(e + 0x4338000000000000LL) - 0x1.8p52;
    return exponent * 0x1.62e42fee00000p-1 +
           (exponent * 0x1.a39ef35793c76p-33 + (2.0 * z + 2.0 * z * p));
}

/* exp over n values (a multiple of the vector width), in place */
EM_TARGET static void
EM_NAME(exp_all)(double *values, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i += EM_W) {
        EM_NAME(store)(values + i, EM_NAME(exp)(EM_NAME(load)(values + i)));
    }
}

/* The products u_a u_b, a <= b, row-major, of the d values u. Whole
 * vectors are stored: up to EM_W - 1 values after the last product are
 * overwritten, and up to EM_W - 1 values after u[d - 1] are read. */
EM_TARGET static inline __attribute__((always_inline)) void
EM_NAME(pairs_d)(const double *u, Py_ssize_t d, double *out)
{
    Py_ssize_t a, t;
    _Pragma("GCC unroll 16") for (a = 0; a < d; a++)
    {
        const EM_VEC ua = EM_NAME(splat)(u[a]);
        EM_NAME(store)(out, ua * EM_NAME(load)(u + a));
        for (t = EM_W; t < d - a; t += EM_W) {
            EM_NAME(store)(out + t, ua * EM_NAME(load)(u + a + t));
        }
        out += d - a;
    }
}

/* pairs_d, unrolled for d up to 12 */
EM_TARGET static void
EM_NAME(pairs)(const double *u, Py_ssize_t d, double *out)
{
    switch (d) {
#define EM_CASE(n)                                                            \
    case n:                                                                   \
        EM_NAME(pairs_d)(u, n, out);                                          \
        break;
        EM_UP_TO_12(EM_CASE)
#undef EM_CASE
    default:
        EM_NAME(pairs_d)(u, d, out);
    }
}

/* S[k0 .. k0 + 4, j0 .. j0 + JB * W] += R[:, k0 ..]^T D[:, j0 ..] over m
 * rows: 4 x JB vectors of accumulators held in registers */
EM_TARGET static inline __attribute__((always_inline)) void
EM_NAME(block)(double *S, const double *R, const double *D, Py_ssize_t m,
               Py_ssize_t ms, Py_ssize_t p_pad, Py_ssize_t k0, Py_ssize_t j0,
               const int JB)
{
    EM_VEC acc[4][3];
    Py_ssize_t i;
    int a, b;
    _Pragma("GCC unroll 4") for (a = 0; a < 4; a++)
    {
        _Pragma("GCC unroll 3") for (b = 0; b < JB; b++)
        {
            acc[a][b] = EM_NAME(load)(S + (k0 + a) * p_pad + j0 + b * EM_W);
        }
    }
    for (i = 0; i < m; i++) {
        const double *d = D + i * p_pad + j0;
        const double *r = R + k0 * ms + i;
        EM_VEC dv[3];
        _Pragma("GCC unroll 3") for (b = 0; b < JB; b++)
        {
            dv[b] = EM_NAME(load)(d + b * EM_W);
        }
        _Pragma("GCC unroll 4") for (a = 0; a < 4; a++)
        {
            const EM_VEC ra = EM_NAME(splat)(r[a * ms]);
            _Pragma("GCC unroll 3") for (b = 0; b < JB; b++)
            {
                acc[a][b] += ra * dv[b];
            }
        }
    }
    _Pragma("GCC unroll 4") for (a = 0; a < 4; a++)
    {
        _Pragma("GCC unroll 3") for (b = 0; b < JB; b++)
        {
            EM_NAME(store)(S + (k0 + a) * p_pad + j0 + b * EM_W, acc[a][b]);
        }
    }
}

/* S (k_pad x p_pad) += R D, R (k_pad x m, row stride ms) and D (m x p_pad)
 * row-major; k_pad is a multiple of 4 and p_pad of the vector width */
EM_TARGET static void
EM_NAME(accumulate)(double *S, const double *R, const double *D, Py_ssize_t m,
                    Py_ssize_t ms, Py_ssize_t k_pad, Py_ssize_t p_pad)
{
    Py_ssize_t k0, j0;
    for (k0 = 0; k0 < k_pad; k0 += 4) {
        for (j0 = 0; j0 + 3 * EM_W <= p_pad; j0 += 3 * EM_W) {
            EM_NAME(block)(S, R, D, m, ms, p_pad, k0, j0, 3);
        }
        for (; j0 < p_pad; j0 += EM_W) {
            EM_NAME(block)(S, R, D, m, ms, p_pad, k0, j0, 1);
        }
    }
}

/* Copies between row-major (m, K) `rows` of type T (the caller's array)
 * and the component-major float64 `columns` (row stride ms). */
#define EM_TRANSPOSES(T, SUFFIX)                                              \
    EM_TARGET static inline __attribute__((always_inline)) void              \
        EM_NAME(in_##SUFFIX)(const T *rows, double *columns, Py_ssize_t m,    \
                             Py_ssize_t K, Py_ssize_t ms)                     \
    {                                                                         \
        Py_ssize_t i, k;                                                      \
        for (i = 0; i < m; i++) {                                             \
            for (k = 0; k < K; k++) {                                         \
                columns[k * ms + i] = rows[i * K + k];                        \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    EM_TARGET static inline __attribute__((always_inline)) void              \
        EM_NAME(out_##SUFFIX)(T *rows, const double *columns, Py_ssize_t m,   \
                              Py_ssize_t K, Py_ssize_t ms)                    \
    {                                                                         \
        Py_ssize_t i, k;                                                      \
        for (i = 0; i < m; i++) {                                             \
            for (k = 0; k < K; k++) {                                         \
                rows[i * K + k] = (T)columns[k * ms + i];                     \
            }                                                                 \
        }                                                                     \
    }
EM_TRANSPOSES(double, f64)
EM_TRANSPOSES(float, f32)
#undef EM_TRANSPOSES

/* The rows start .. start + m of the caller's (n, K) `values` into
 * `columns` (inward) or back, with the loops over K unrolled up to 8. */
EM_TARGET static void
EM_NAME(transpose)(void *values, int single, Py_ssize_t start,
                   double *columns, Py_ssize_t m, Py_ssize_t K, Py_ssize_t ms,
                   int inward)
{
    double *f64 = (double *)values + start * K;
    float *f32 = (float *)values + start * K;
#define EM_CALL(n)                                                            \
    if (single && inward) {                                                   \
        EM_NAME(in_f32)(f32, columns, m, n, ms);                              \
    }                                                                         \
    else if (single) {                                                        \
        EM_NAME(out_f32)(f32, columns, m, n, ms);                             \
    }                                                                         \
    else if (inward) {                                                        \
        EM_NAME(in_f64)(f64, columns, m, n, ms);                              \
    }                                                                         \
    else {                                                                    \
        EM_NAME(out_f64)(f64, columns, m, n, ms);                             \
    }
#define EM_CASE(n)                                                            \
    case n:                                                                   \
        EM_CALL(n) break;
    switch (K) {
        EM_UP_TO_8(EM_CASE)
    default:
        EM_CALL(K)
    }
#undef EM_CASE
#undef EM_CALL
}

/* The log-responsibilities of the m rows of a sub-chunk (mode 0), in the
 * component-major buffers of w: lp (K, ms) holds the log-probabilities, and
 * gets the log-responsibilities; resp (k_pad, ms) the responsibilities;
 * logs (ms) log p(x_i). Every step runs along the rows, whole vectors (the
 * lanes past m compute values nobody reads). */
EM_TARGET static void
EM_NAME(log_resp)(struct em_work *w, Py_ssize_t m, Py_ssize_t K)
{
    const Py_ssize_t ms = w->ms;
    double *const lp = w->lp, *const expo = w->expo;
    const EM_VEC zero = EM_NAME(splat)(0.0);
    Py_ssize_t i, k;
    for (i = 0; i < m; i += EM_W) {
        EM_VEC top = EM_NAME(load)(lp + i);
        EM_IVEC finite;
        for (k = 1; k < K; k++) {
            const EM_VEC v = EM_NAME(load)(lp + k * ms + i);
            top = EM_NAME(select)((EM_IVEC)(v > top), v, top);
        }
        /* every term -inf (or NaN): no shift */
        finite = (EM_IVEC)(top > EM_NAME(splat)(-INFINITY)) &
                 (EM_IVEC)(top < EM_NAME(splat)(INFINITY));
        top = EM_NAME(select)(finite, top, zero);
        EM_NAME(store)(w->shift + i, top);
        for (k = 0; k < K; k++) {
            EM_NAME(store)(expo + k * ms + i,
                           EM_NAME(load)(lp + k * ms + i) - top);
        }
    }
    EM_NAME(exp_all)(expo, K * ms);
    for (i = 0; i < m; i += EM_W) {
        EM_VEC sum = EM_NAME(load)(expo + i);
        for (k = 1; k < K; k++) {
            sum += EM_NAME(load)(expo + k * ms + i);
        }
        EM_NAME(store)(w->sums + i, sum);
        EM_NAME(store)(w->logs + i, EM_NAME(log)(sum));
    }
    for (i = 0; i < m; i++) {
        if (!(w->sums[i] >= DBL_MIN && w->sums[i] <= DBL_MAX)) {
            w->logs[i] = log(w->sums[i]); /* 0, subnormal, inf or NaN */
        }
    }
    for (i = 0; i < m; i += EM_W) {
        const EM_VEC norm = EM_NAME(load)(w->shift + i) + EM_NAME(load)(w->logs + i);
        const EM_VEC inverse = 1.0 / EM_NAME(load)(w->sums + i);
        EM_NAME(store)(w->logs + i, norm);
        for (k = 0; k < K; k++) {
            EM_NAME(store)(lp + k * ms + i, EM_NAME(load)(lp + k * ms + i) - norm);
            EM_NAME(store)(w->resp + k * ms + i,
                           EM_NAME(load)(expo + k * ms + i) * inverse);
        }
    }
}

/* The rows of one call: see em_chunk in _emkernel.c for the arguments. */
EM_TARGET static void
EM_NAME(rows)(const struct em_problem *pb, struct em_work *w)
{
    const Py_ssize_t K = pb->n_components, d = pb->n_features;
    const Py_ssize_t ms = w->ms, p_pad = w->p_pad;
    const Py_ssize_t n_head = pb->n_head;
    double log_total = 0.0, entropy = 0.0; /* in registers, not in *w */
    Py_ssize_t start;
    for (start = 0; start < pb->n_samples; start += w->rows) {
        const Py_ssize_t m =
            pb->n_samples - start < w->rows ? pb->n_samples - start : w->rows;
        /* mode 2 reads the responsibilities straight into resp */
        double *const in = pb->mode == 2 ? w->resp : w->lp;
        Py_ssize_t i, j, k, t;
        /* the values, component-major */
        EM_NAME(transpose)(pb->values, pb->values_single, start, in, m, K, ms, 1);
        if (pb->mode == 0) {
            for (k = 0; k < K; k++) {
                const EM_VEC offset = EM_NAME(splat)(pb->offsets[k]);
                for (i = 0; i < m; i += EM_W) {
                    EM_NAME(store)(w->lp + k * ms + i,
                                   offset - 0.5 * EM_NAME(load)(w->lp + k * ms + i));
                }
            }
            EM_NAME(log_resp)(w, m, K);
            for (i = 0; i < m; i++) {
                log_total += w->logs[i];
            }
            EM_NAME(transpose)(pb->values, pb->values_single, start, w->lp, m, K,
                               ms, 0);
            if (pb->norm != NULL) {
                em_save(w->logs, m, pb->norm, pb->values_single, start);
            }
        }
        else if (pb->mode == 1) {
            memcpy(w->resp, w->lp, (size_t)(K * ms) * sizeof(double));
            EM_NAME(exp_all)(w->resp, K * ms);
        }
        if (pb->entropy) {
            for (k = 0; k < K; k++) {
                const double *r = w->resp + k * ms, *l = w->lp + k * ms;
                for (i = 0; i < m; i++) {
                    entropy += r[i] * l[i];
                }
            }
        }
        if (pb->sums == NULL) {
            continue;
        }
        /* the design rows [head(u), u, 1] of the sub-chunk; whole vectors
         * are stored in increasing order, each overwriting at most the
         * start of what comes next */
        if (pb->x_single) {
            const float *X = (const float *)pb->X + start * d;
            for (j = 0; j < m * d; j++) {
                w->x[j] = X[j] - w->tiled_center[j];
            }
        }
        else {
            const double *X = (const double *)pb->X + start * d;
            for (j = 0; j < m * d; j++) {
                w->x[j] = X[j] - w->tiled_center[j];
            }
        }
        for (i = 0; i < m; i++) {
            double *row = w->design + i * p_pad;
            const double *u = w->x + i * d;
            if (pb->head == EM_HEAD_PAIRS) {
                EM_NAME(pairs)(u, d, row);
            }
            else if (pb->head == EM_HEAD_SQUARES) {
                for (t = 0; t < d; t += EM_W) {
                    const EM_VEC v = EM_NAME(load)(u + t);
                    EM_NAME(store)(row + t, v * v);
                }
            }
            for (t = 0; t < d; t += EM_W) {
                EM_NAME(store)(row + n_head + t, EM_NAME(load)(u + t));
            }
            row[n_head + d] = 1.0;
            if (pb->pairs != NULL) {
                /* tied: the unweighted products */
                EM_NAME(pairs)(u, d, w->pair_row);
                for (t = 0; t < w->n_pairs_pad; t += EM_W) {
                    EM_NAME(store)(w->pairs + t, EM_NAME(load)(w->pairs + t) +
                                                     EM_NAME(load)(w->pair_row + t));
                }
            }
        }
        EM_NAME(accumulate)(w->S, w->resp, w->design, m, ms, w->k_pad, p_pad);
    }
    w->log_total = log_total;
    w->entropy = entropy;
}

#undef EM_W
