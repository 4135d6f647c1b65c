/* The tile kernel, as one macro instantiated per element type and
 * instruction set by _ckernel.c:
 *
 *   DEFINE_KERNEL(P, REAL, VREAL, TARGET, LOAD_TILE, WIDTHS)
 *
 *   P          the prefix of the functions it defines (P##_rows is the entry)
 *   REAL       the element type (double or float)
 *   VREAL      a GCC vector of REAL, as wide as the target's registers
 *   TARGET     a function attribute that selects the instruction set (or
 *              nothing)
 *   LOAD_TILE  LOAD_TILE(X, d, columns) loads a tile's rows into its feature
 *              columns: a register transpose of _ckernel_transpose.h, or
 *              P##_gather, which loads the tile element by element
 *   WIDTHS     SMALL_WIDTHS, or NO_WIDTHS for the generic tiles alone
 *
 * A tile is LANES = sizeof(VREAL) / sizeof(REAL) consecutive rows. Its
 * centred features are held in n_features vectors (one per feature, one lane
 * per row), so every later operation is a vector operation across the rows
 * of the tile: the whitened offsets y_j = sum_i F[j, i] (x_i - c_i) -
 * bias[k, j] take one multiply-add per nonzero factor entry, and their
 * squares are summed in registers. Neither the whitened offsets nor the
 * (n_samples, n_components) matrix are stored unless the mode asks for the
 * latter. F is stored transposed (G[i, j] = F[j, i] at factor[i * d + j],
 * the precision Cholesky factor as scikit-learn keeps it), so the entries
 * of consecutive outputs that one feature feeds are adjacent in memory.
 *
 * Three generic tile functions (dense, lower triangular and diagonal F) take
 * any n_features: they compute the offsets in blocks of 8, 4, 2 and 1
 * outputs, each block sharing its feature loads, and skip the exact zeros
 * above the diagonal of triangular factors. Only small n_features, where the
 * generic loops' overhead weighs most, get tile functions of their own,
 * whose constant trip counts let the compiler unroll everything and keep the
 * features in registers.
 */

/* The widths (n_features) with tile functions of their own, for lower
 * triangular and diagonal F, as X-macro lists; dense F (structure 0) and
 * every other width take the generic tiles. A width's own tiles run 1.4 to
 * 1.7 times fewer instructions than the generic ones (AVX2, float64, four
 * components: 118 against 202 per row at 5 features, 223 against 333 at 10,
 * 281 against 402 at 12), but their code, and so the build's time and size,
 * grow with the square of the width: widths up to 10 are what a build of
 * about 25 seconds and 1.3 MB holds. */
#define SMALL_WIDTHS(X, P, REAL, VREAL, TARGET)                               \
    X(P, REAL, VREAL, TARGET, 1)                                              \
    X(P, REAL, VREAL, TARGET, 2)                                              \
    X(P, REAL, VREAL, TARGET, 3)                                              \
    X(P, REAL, VREAL, TARGET, 4)                                              \
    X(P, REAL, VREAL, TARGET, 5)                                              \
    X(P, REAL, VREAL, TARGET, 6)                                              \
    X(P, REAL, VREAL, TARGET, 7)                                              \
    X(P, REAL, VREAL, TARGET, 8)                                              \
    X(P, REAL, VREAL, TARGET, 9)                                              \
    X(P, REAL, VREAL, TARGET, 10)
#define NO_WIDTHS(X, P, REAL, VREAL, TARGET)

#define KERNEL_LANES(REAL, VREAL) ((int)(sizeof(VREAL) / sizeof(REAL)))

/* a vector with `value` in every lane */
#define KERNEL_SPLAT(P, REAL, VREAL, TARGET)                                  \
    TARGET static inline VREAL P##_splat(REAL value)                          \
    {                                                                         \
        const VREAL zero = {0};                                               \
        return zero + value; /* a scalar operand is broadcast */              \
    }

/* A tile loaded element by element: column i, lane r <- X[r * d + i]. */
#define KERNEL_GATHER(P, REAL, VREAL, TARGET)                                 \
    TARGET static inline __attribute__((always_inline)) void P##_gather(      \
        const REAL *X, const Py_ssize_t d, VREAL *columns)                    \
    {                                                                         \
        Py_ssize_t i;                                                         \
        int lane;                                                             \
        for (i = 0; i < d; i++) {                                             \
            for (lane = 0; lane < KERNEL_LANES(REAL, VREAL); lane++) {        \
                columns[i][lane] = X[lane * d + i];                           \
            }                                                                 \
        }                                                                     \
    }

/* Sum of y_a^2 over the B (a constant) outputs j .. j + B - 1 of a dense or
 * lower triangular factor: the features up to j feed every output; in the
 * triangle after them, feature j + c feeds outputs c .. B - 1 only (a lower
 * triangular F has exact zeros above its diagonal). */
#define KERNEL_BLOCK(P, REAL, VREAL, TARGET)                                  \
    TARGET static inline __attribute__((always_inline)) VREAL P##_block(      \
        const VREAL *features, const REAL *factor, const REAL *b,             \
        const Py_ssize_t d, const Py_ssize_t j, const int structure,          \
        const int B)                                                          \
    {                                                                         \
        /* G[i, j + a] = column[i * d + a] */                                 \
        const REAL *column = factor + j;                                      \
        const Py_ssize_t shared = structure == 0 ? d : j;                     \
        VREAL y[8];                                                           \
        VREAL acc;                                                            \
        Py_ssize_t i;                                                         \
        int a, c;                                                             \
        _Pragma("GCC unroll 8") for (a = 0; a < B; a++)                       \
        {                                                                     \
            y[a] = P##_splat(-b[j + a]);                                      \
        }                                                                     \
        _Pragma("GCC unroll 4") for (i = 0; i < shared; i++)                  \
        {                                                                     \
            const VREAL f = features[i];                                      \
            _Pragma("GCC unroll 8") for (a = 0; a < B; a++)                   \
            {                                                                 \
                y[a] += f * column[a];                                        \
            }                                                                 \
            column += d;                                                      \
        }                                                                     \
        if (structure != 0) {                                                 \
            _Pragma("GCC unroll 8") for (c = 0; c < B; c++)                   \
            {                                                                 \
                const VREAL f = features[j + c];                              \
                _Pragma("GCC unroll 8") for (a = c; a < B; a++)               \
                {                                                             \
                    y[a] += f * factor[(j + c) * d + j + a];                  \
                }                                                             \
            }                                                                 \
        }                                                                     \
        acc = y[0] * y[0];                                                    \
        _Pragma("GCC unroll 8") for (a = 1; a < B; a++)                       \
        {                                                                     \
            acc += y[a] * y[a];                                               \
        }                                                                     \
        return acc;                                                           \
    }

/* acc += y_j^2 over the d outputs of a diagonal F, the loop unrolled as
 * UNROLL (a pragma's text) says; for KERNEL_SQUARED. */
#define KERNEL_DIAGONAL_SUM(VREAL, UNROLL)                                    \
    _Pragma(UNROLL) for (j = 0; j < d; j++)                                   \
    {                                                                         \
        const VREAL y = features[j] * factor[j * d + j] - b[j];               \
        acc += y * y;                                                         \
    }

/* Sum over the d outputs of y_j^2 for one component: any structure. With d
 * and structure constants (UNROLLED), every loop is unrolled completely. */
#define KERNEL_SQUARED(P, REAL, VREAL, TARGET)                                \
    TARGET static inline __attribute__((always_inline)) VREAL P##_squared(    \
        const VREAL *features, const REAL *factor, const REAL *b,             \
        const Py_ssize_t d, const int structure, const int unrolled)          \
    {                                                                         \
        VREAL acc = P##_splat((REAL)0);                                       \
        Py_ssize_t i, j;                                                      \
        if (structure == 2 && unrolled) { /* diagonal F, constant d */        \
            KERNEL_DIAGONAL_SUM(VREAL, "GCC unroll 16")                       \
        }                                                                     \
        else if (structure == 2) { /* diagonal F */                           \
            KERNEL_DIAGONAL_SUM(VREAL, "GCC unroll 4")                        \
        }                                                                     \
        else if (unrolled) {                                                  \
            _Pragma("GCC unroll 16") for (j = 0; j < d; j++)                  \
            {                                                                 \
                const Py_ssize_t stop = structure == 0 ? d : j + 1;           \
                VREAL y = P##_splat(-b[j]);                                   \
                _Pragma("GCC unroll 16") for (i = 0; i < stop; i++)           \
                {                                                             \
                    y += features[i] * factor[i * d + j];                     \
                }                                                             \
                acc += y * y;                                                 \
            }                                                                 \
        }                                                                     \
        else {                                                                \
            for (j = 0; j + 8 <= d; j += 8) {                                 \
                acc += P##_block(features, factor, b, d, j, structure, 8);    \
            }                                                                 \
            if (d - j >= 4) {                                                 \
                acc += P##_block(features, factor, b, d, j, structure, 4);    \
                j += 4;                                                       \
            }                                                                 \
            if (d - j >= 2) {                                                 \
                acc += P##_block(features, factor, b, d, j, structure, 2);    \
                j += 2;                                                       \
            }                                                                 \
            if (d - j >= 1) {                                                 \
                acc += P##_block(features, factor, b, d, j, structure, 1);    \
            }                                                                 \
        }                                                                     \
        return acc;                                                           \
    }

/* One full tile of LANES rows; outputs are written for the first `rows`.
 * Returns 1 when every value of the tile is finite, else 0: the finiteness
 * check of the input rides on the pass that loads it. */
#define KERNEL_TILE_BODY(P, REAL, VREAL, TARGET, LOAD_TILE)                   \
    TARGET static inline __attribute__((always_inline)) int P##_tile_body(    \
        const REAL *X, const Py_ssize_t d, const REAL *center,                \
        const REAL *factors, Py_ssize_t n_factors, int structure,             \
        const REAL *bias, Py_ssize_t n_components, int mode,                  \
        const REAL *limits, Py_ssize_t rows, void *out, VREAL *features,      \
        const int unrolled)                                                   \
    {                                                                         \
        typedef __typeof__(features[0] < features[0]) vmask;                  \
        Py_ssize_t i, k;                                                      \
        int lane;                                                             \
        VREAL best = P##_splat((REAL)INFINITY);                               \
        vmask any_inside = best != best; /* all false */                      \
        vmask finite = best == best;     /* all true */                       \
                                                                              \
        LOAD_TILE(X, d, features);                                            \
        for (i = 0; i < d; i++) {                                             \
            const VREAL column = features[i];                                 \
            finite &= column - column == P##_splat((REAL)0);                  \
            features[i] = column - center[i];                                 \
        }                                                                     \
        for (k = 0; k < n_components; k++) {                                  \
            /* Tied covariances share one factor: whitening differs by the    \
             * bias. */                                                       \
            const REAL *factor = factors + (n_factors == 1 ? 0 : k) * d * d;  \
            VREAL acc;                                                        \
            if (mode == MODE_MIN_SCALED && !(limits[k] < (REAL)INFINITY)) {   \
                continue; /* a component left out of the minimum */           \
            }                                                                 \
            acc = P##_squared(features, factor, bias + k * d, d, structure,   \
                              unrolled);                                      \
            switch (mode) {                                                   \
            case MODE_SQUARED: {                                              \
                REAL *o = (REAL *)out;                                        \
                for (lane = 0; lane < rows; lane++) {                         \
                    o[lane * n_components + k] = acc[lane];                   \
                }                                                             \
                break;                                                        \
            }                                                                 \
            case MODE_MIN_SCALED: {                                           \
                const VREAL scaled = acc * limits[k];                         \
                const vmask smaller = scaled < best;                          \
                best = (VREAL)(((vmask)scaled & smaller) |                    \
                               ((vmask)best & ~smaller));                     \
                break;                                                        \
            }                                                                 \
            case MODE_WITHIN:                                                 \
                any_inside |= acc <= P##_splat(limits[k]);                    \
                break;                                                        \
            default: { /* MODE_WITHIN_EACH */                                 \
                unsigned char *o = (unsigned char *)out;                      \
                for (lane = 0; lane < rows; lane++) {                         \
                    o[lane * n_components + k] = acc[lane] <= limits[k];      \
                }                                                             \
                break;                                                        \
            }                                                                 \
            }                                                                 \
        }                                                                     \
        if (mode == MODE_MIN_SCALED) {                                        \
            REAL *o = (REAL *)out;                                            \
            for (lane = 0; lane < rows; lane++) {                             \
                o[lane] = best[lane];                                         \
            }                                                                 \
        }                                                                     \
        else if (mode == MODE_WITHIN) {                                       \
            unsigned char *o = (unsigned char *)out;                          \
            for (lane = 0; lane < rows; lane++) {                             \
                o[lane] = any_inside[lane] != 0;                              \
            }                                                                 \
        }                                                                     \
        for (lane = 0; lane < KERNEL_LANES(REAL, VREAL); lane++) {            \
            if (!finite[lane]) {                                              \
                return 0;                                                     \
            }                                                                 \
        }                                                                     \
        return 1;                                                             \
    }

/* the signature every tile function shares */
#define KERNEL_TILE_PARAMS(REAL, VREAL)                                       \
    const REAL *X, Py_ssize_t d, const REAL *center, const REAL *factors,     \
        Py_ssize_t n_factors, int structure, const REAL *bias,                \
        Py_ssize_t n_components, int mode, const REAL *limits,                \
        Py_ssize_t rows, void *out, VREAL *features

/* The tiles of any n_features: dense (0), lower triangular (1) and
 * diagonal (2) F. */
#define KERNEL_TILE_ANY(P, REAL, VREAL, TARGET, S)                            \
    TARGET static int P##_tile_any_##S(KERNEL_TILE_PARAMS(REAL, VREAL))       \
    {                                                                         \
        (void)structure;                                                      \
        return P##_tile_body(X, d, center, factors, n_factors, S, bias,       \
                             n_components, mode, limits, rows, out, features, \
                             0);                                              \
    }

/* The tile of n_features D and structure S (1: lower triangular F, 2:
 * diagonal F), its features in a local array of fixed size. */
#define KERNEL_TILE_FIXED(P, REAL, VREAL, TARGET, D, S)                       \
    TARGET static int P##_tile_##D##_##S(KERNEL_TILE_PARAMS(REAL, VREAL))     \
    {                                                                         \
        VREAL local[D];                                                       \
        (void)d, (void)structure, (void)features;                             \
        return P##_tile_body(X, D, center, factors, n_factors, S, bias,       \
                             n_components, mode, limits, rows, out, local,    \
                             1);                                              \
    }

/* The tiles of n_features D, lower triangular (1) and diagonal (2) F. */
#define KERNEL_TILE_WIDTH(P, REAL, VREAL, TARGET, D)                          \
    KERNEL_TILE_FIXED(P, REAL, VREAL, TARGET, D, 1)                           \
    KERNEL_TILE_FIXED(P, REAL, VREAL, TARGET, D, 2)

#define KERNEL_TILE_CASE(P, REAL, VREAL, TARGET, D)                           \
    case D:                                                                   \
        if (structure != 0) {                                                 \
            tile = structure == 1 ? P##_tile_##D##_1 : P##_tile_##D##_2;      \
        }                                                                     \
        break;

/* Every row of X through its tile; returns 1 when all of X is finite. */
#define KERNEL_ROWS(P, REAL, VREAL, TARGET, WIDTHS)                           \
    TARGET static int P##_rows(                                               \
        const REAL *X, Py_ssize_t n_samples, Py_ssize_t n_features,           \
        const REAL *center, const REAL *factors, Py_ssize_t n_factors,        \
        int structure, const REAL *bias, Py_ssize_t n_components, int mode,   \
        const REAL *limits, void *out, VREAL *features, REAL *padded)         \
    {                                                                         \
        const Py_ssize_t lanes = KERNEL_LANES(REAL, VREAL);                   \
        int (*tile)(KERNEL_TILE_PARAMS(REAL, VREAL)) =                        \
            structure == 0   ? P##_tile_any_0                                 \
            : structure == 1 ? P##_tile_any_1                                 \
                             : P##_tile_any_2;                                \
        /* output elements per row, and their size */                         \
        const Py_ssize_t per_row =                                            \
            (mode == MODE_SQUARED || mode == MODE_WITHIN_EACH) ? n_components \
                                                               : 1;           \
        const Py_ssize_t item =                                               \
            (mode == MODE_WITHIN || mode == MODE_WITHIN_EACH) ? 1             \
                                                              : sizeof(REAL); \
        const Py_ssize_t full = n_samples - n_samples % lanes;                \
        const Py_ssize_t tile_bytes =                                         \
            lanes * n_features * (Py_ssize_t)sizeof(REAL);                    \
        Py_ssize_t start;                                                     \
        int finite = 1;                                                       \
                                                                              \
        switch (n_features) {                                                 \
            WIDTHS(KERNEL_TILE_CASE, P, REAL, VREAL, TARGET)                  \
        default:                                                              \
            break;                                                            \
        }                                                                     \
        for (start = 0; start < full; start += lanes) {                       \
            /* The hardware prefetcher does not follow the tile's column-wise \
             * reads out of memory: fetch the rows of a tile further on now.  \
             */                                                               \
            if (start + PREFETCH_TILES * lanes < full) {                      \
                const char *ahead =                                           \
                    (const char *)(X + (start + PREFETCH_TILES * lanes) *     \
                                           n_features);                       \
                Py_ssize_t offset;                                            \
                for (offset = 0; offset < tile_bytes; offset += 64) {         \
                    __builtin_prefetch(ahead + offset, 0, 0);                 \
                }                                                             \
            }                                                                 \
            finite &= tile(X + start * n_features, n_features, center,        \
                           factors, n_factors, structure, bias, n_components, \
                           mode, limits, lanes,                               \
                           (char *)out + start * per_row * item, features);   \
        }                                                                     \
        if (full < n_samples) {                                               \
            /* the last, partial tile: its rows, then zeros, in a full        \
             * tile */                                                        \
            const Py_ssize_t rows = n_samples - full;                         \
            Py_ssize_t index;                                                 \
            for (index = 0; index < lanes * n_features; index++) {            \
                padded[index] = index < rows * n_features                     \
                                    ? X[full * n_features + index]            \
                                    : (REAL)0;                                \
            }                                                                 \
            finite &= tile(padded, n_features, center, factors, n_factors,    \
                           structure, bias, n_components, mode, limits, rows, \
                           (char *)out + full * per_row * item, features);    \
        }                                                                     \
        return finite;                                                        \
    }

/* The kernel of one element type and instruction set: P##_rows. */
#define DEFINE_KERNEL(P, REAL, VREAL, TARGET, LOAD_TILE, WIDTHS)              \
    KERNEL_SPLAT(P, REAL, VREAL, TARGET)                                      \
    KERNEL_GATHER(P, REAL, VREAL, TARGET)                                     \
    KERNEL_BLOCK(P, REAL, VREAL, TARGET)                                      \
    KERNEL_SQUARED(P, REAL, VREAL, TARGET)                                    \
    KERNEL_TILE_BODY(P, REAL, VREAL, TARGET, LOAD_TILE)                       \
    KERNEL_TILE_ANY(P, REAL, VREAL, TARGET, 0)                                \
    KERNEL_TILE_ANY(P, REAL, VREAL, TARGET, 1)                                \
    KERNEL_TILE_ANY(P, REAL, VREAL, TARGET, 2)                                \
    WIDTHS(KERNEL_TILE_WIDTH, P, REAL, VREAL, TARGET)                         \
    KERNEL_ROWS(P, REAL, VREAL, TARGET, WIDTHS)
