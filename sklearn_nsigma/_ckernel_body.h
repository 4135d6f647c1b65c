/* The tile kernel, instantiated once per element type and instruction set.
 *
 * Included by _ckernel.c with these macros defined:
 *   REAL      the element type (double or float)
 *   VREAL     a GCC vector of REAL, as wide as the target's registers
 *   LANES     its number of lanes
 *   VMASK     the vector of integers a comparison of two VREALs gives
 *   NAME(x)   the function name for this instantiation
 *   TARGET    a function attribute that selects the instruction set (or empty)
 *   TRANSPOSE (optional) TRANSPOSE(X, d, columns) loads a tile's rows into
 *             its feature columns (_ckernel_transpose.h); without it, the
 *             tile is loaded element by element
 *
 * A tile is LANES consecutive rows. Its centred features are held in
 * n_features vectors (one per feature, one lane per row), so every later
 * operation is a vector operation across the rows of the tile: the whitened
 * offsets y_j = sum_i F[f, j, i] (x_i - c_i) - bias[k, j] take one
 * multiply-add per nonzero factor entry, and their squares are summed in
 * registers. Neither the whitened offsets nor the (n_samples, n_components)
 * matrix are stored unless the mode asks for the latter.
 *
 * The tile body is inlined into one function per small n_features (up to
 * SMALL_D) and factor structure, where the constant trip counts let the
 * compiler unroll the triangular loops and keep the features in registers,
 * and into one generic function for larger n_features.
 */

TARGET static inline VREAL
NAME(splat)(REAL value)
{
    const VREAL zero = {0};
    return zero + value; /* a scalar operand is broadcast to every lane */
}

/* One full tile of LANES rows; outputs are written for the first `rows`.
 * Returns 1 when every value of the tile is finite, else 0: the finiteness
 * check of the input rides on the pass that loads it. */
TARGET static inline __attribute__((always_inline)) int
NAME(tile_body)(const REAL *X, const Py_ssize_t d, const REAL *center,
                const REAL *factors, Py_ssize_t n_factors, int structure,
                const REAL *bias, Py_ssize_t n_components, int mode,
                const REAL *limits, Py_ssize_t rows, void *out,
                VREAL *features)
{
    Py_ssize_t i, j, k;
    int lane;
    VREAL best = NAME(splat)((REAL)INFINITY);
    VMASK any_inside = best != best; /* all false */
    VMASK finite = best == best;     /* all true */

#ifdef TRANSPOSE
    /* whole rows loaded, transposed into feature columns in registers */
    TRANSPOSE(X, d, features);
#else
    for (i = 0; i < d; i++) {
        for (lane = 0; lane < LANES; lane++) {
            features[i][lane] = X[lane * d + i];
        }
    }
#endif
    for (i = 0; i < d; i++) {
        const VREAL column = features[i];
        finite &= column - column == NAME(splat)((REAL)0);
        features[i] = column - center[i];
    }

    for (k = 0; k < n_components; k++) {
        /* Tied covariances share one factor: whitening differs by the bias. */
        const REAL *factor = factors + (n_factors == 1 ? 0 : k) * d * d;
        const REAL *b = bias + k * d;
        VREAL acc = NAME(splat)((REAL)0);
        if (mode == MODE_MIN_SCALED && !(limits[k] < (REAL)INFINITY)) {
            continue; /* a component left out of the minimum */
        }
        if (structure == 2) { /* diagonal F */
            for (j = 0; j < d; j++) {
                VREAL y = features[j] * factor[j * d + j] - b[j];
                acc += y * y;
            }
        }
        else if (d > SMALL_D) {
            /* Eight outputs at a time share each feature load. A lower
             * triangular F (structure 1) has exact zeros above its diagonal,
             * so rows j .. j + 7 need the features up to j + 7 only. */
            for (j = 0; j + 8 <= d; j += 8) {
                const REAL *row = factor + j * d;
                const Py_ssize_t stop = structure == 0 ? d : j + 8;
                VREAL y[8];
                int a;
                for (a = 0; a < 8; a++) {
                    y[a] = NAME(splat)(-b[j + a]);
                }
                for (i = 0; i < stop; i++) {
                    const VREAL f = features[i];
#pragma GCC unroll 8
                    for (a = 0; a < 8; a++) {
                        y[a] += f * row[a * d + i];
                    }
                }
#pragma GCC unroll 8
                for (a = 0; a < 8; a++) {
                    acc += y[a] * y[a];
                }
            }
            for (; j < d; j++) {
                const REAL *row = factor + j * d;
                const Py_ssize_t stop = structure == 0 ? d : j + 1;
                VREAL y = NAME(splat)(-b[j]);
                for (i = 0; i < stop; i++) {
                    y += features[i] * row[i];
                }
                acc += y * y;
            }
        }
        else {
            /* constant d: the compiler unrolls these loops completely */
#pragma GCC unroll 16
            for (j = 0; j < d; j++) {
                const REAL *row = factor + j * d;
                const Py_ssize_t stop = structure == 0 ? d : j + 1;
                VREAL y = NAME(splat)(-b[j]);
#pragma GCC unroll 16
                for (i = 0; i < stop; i++) {
                    y += features[i] * row[i];
                }
                acc += y * y;
            }
        }
        switch (mode) {
        case MODE_SQUARED: {
            REAL *o = (REAL *)out;
            for (lane = 0; lane < rows; lane++) {
                o[lane * n_components + k] = acc[lane];
            }
            break;
        }
        case MODE_MIN_SCALED: {
            VREAL scaled = acc * limits[k];
            VMASK smaller = scaled < best;
            best = (VREAL)(((VMASK)scaled & smaller) | ((VMASK)best & ~smaller));
            break;
        }
        case MODE_WITHIN:
            any_inside |= acc <= NAME(splat)(limits[k]);
            break;
        default: { /* MODE_WITHIN_EACH */
            unsigned char *o = (unsigned char *)out;
            for (lane = 0; lane < rows; lane++) {
                o[lane * n_components + k] = acc[lane] <= limits[k];
            }
            break;
        }
        }
    }
    if (mode == MODE_MIN_SCALED) {
        REAL *o = (REAL *)out;
        for (lane = 0; lane < rows; lane++) {
            o[lane] = best[lane];
        }
    }
    else if (mode == MODE_WITHIN) {
        unsigned char *o = (unsigned char *)out;
        for (lane = 0; lane < rows; lane++) {
            o[lane] = any_inside[lane] != 0;
        }
    }
    for (lane = 0; lane < LANES; lane++) {
        if (!finite[lane]) {
            return 0;
        }
    }
    return 1;
}

typedef int (*NAME(tile_fn))(const REAL *, Py_ssize_t, const REAL *,
                             const REAL *, Py_ssize_t, int, const REAL *,
                             Py_ssize_t, int, const REAL *, Py_ssize_t,
                             void *, VREAL *);

/* The generic tile, and one per small constant n_features and structure. */
#define DEFINE_TILE(SUFFIX, D_EXPR, S_EXPR)                                   \
    TARGET static int NAME(tile_##SUFFIX)(                                    \
        const REAL *X, Py_ssize_t d, const REAL *center, const REAL *factors, \
        Py_ssize_t n_factors, int structure, const REAL *bias,                \
        Py_ssize_t n_components, int mode, const REAL *limits,                \
        Py_ssize_t rows, void *out, VREAL *features)                          \
    {                                                                         \
        VREAL local[SMALL_D];                                                 \
        (void)d;                                                              \
        (void)structure;                                                      \
        (void)features;                                                       \
        return NAME(tile_body)(X, D_EXPR, center, factors, n_factors, S_EXPR, \
                               bias, n_components, mode, limits, rows, out,   \
                               (D_EXPR) <= SMALL_D ? local : features);       \
    }
#define DEFINE_TILES(D)                                                       \
    DEFINE_TILE(D##_0, D, 0)                                                  \
    DEFINE_TILE(D##_1, D, 1)                                                  \
    DEFINE_TILE(D##_2, D, 2)

DEFINE_TILE(any, d, structure)
DEFINE_TILES(1)
DEFINE_TILES(2)
DEFINE_TILES(3)
DEFINE_TILES(4)
DEFINE_TILES(5)
DEFINE_TILES(6)
DEFINE_TILES(7)
DEFINE_TILES(8)
DEFINE_TILES(9)
DEFINE_TILES(10)
DEFINE_TILES(11)
DEFINE_TILES(12)
DEFINE_TILES(13)
DEFINE_TILES(14)
DEFINE_TILES(15)
DEFINE_TILES(16)
#undef DEFINE_TILES
#undef DEFINE_TILE

/* Every row of X through its tile; returns 1 when all of X is finite. */
TARGET static int
NAME(rows)(const REAL *X, Py_ssize_t n_samples, Py_ssize_t n_features,
           const REAL *center, const REAL *factors, Py_ssize_t n_factors,
           int structure, const REAL *bias, Py_ssize_t n_components, int mode,
           const REAL *limits, void *out, VREAL *features, REAL *padded)
{
#define TILES(D) {NAME(tile_##D##_0), NAME(tile_##D##_1), NAME(tile_##D##_2)}
    static const NAME(tile_fn) small[SMALL_D][3] = {
        TILES(1),  TILES(2),  TILES(3),  TILES(4),  TILES(5),  TILES(6),
        TILES(7),  TILES(8),  TILES(9),  TILES(10), TILES(11), TILES(12),
        TILES(13), TILES(14), TILES(15), TILES(16),
    };
#undef TILES
    const NAME(tile_fn) tile = n_features <= SMALL_D
                                   ? small[n_features - 1][structure]
                                   : NAME(tile_any);
    /* output elements per row, and their size */
    const Py_ssize_t per_row =
        (mode == MODE_SQUARED || mode == MODE_WITHIN_EACH) ? n_components : 1;
    const Py_ssize_t item =
        (mode == MODE_WITHIN || mode == MODE_WITHIN_EACH) ? 1 : sizeof(REAL);
    const Py_ssize_t full = n_samples - n_samples % LANES;
    const Py_ssize_t tile_bytes = LANES * n_features * (Py_ssize_t)sizeof(REAL);
    Py_ssize_t start;
    int finite = 1;

    for (start = 0; start < full; start += LANES) {
        /* The hardware prefetcher does not follow the tile's column-wise
         * reads out of memory: fetch the rows of a tile further on now. */
        if (start + PREFETCH_TILES * LANES < full) {
            const char *ahead =
                (const char *)(X + (start + PREFETCH_TILES * LANES) * n_features);
            Py_ssize_t offset;
            for (offset = 0; offset < tile_bytes; offset += 64) {
                __builtin_prefetch(ahead + offset, 0, 0);
            }
        }
        finite &= tile(X + start * n_features, n_features, center, factors,
                       n_factors, structure, bias, n_components, mode, limits,
                       LANES, (char *)out + start * per_row * item, features);
    }
    if (full < n_samples) {
        /* the last, partial tile: its rows, then zeros, in a full tile */
        const Py_ssize_t rows = n_samples - full;
        Py_ssize_t index;
        for (index = 0; index < LANES * n_features; index++) {
            padded[index] = index < rows * n_features
                                ? X[full * n_features + index]
                                : (REAL)0;
        }
        finite &= tile(padded, n_features, center, factors, n_factors,
                       structure, bias, n_components, mode, limits, rows,
                       (char *)out + full * per_row * item, features);
    }
    return finite;
}
