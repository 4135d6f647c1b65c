/* What the compiled kernels share, included once by each extension module
 * (every definition is static): the instruction sets and their detection
 * (the names are those of _ckernel.supported_instruction_sets()), and a
 * check of their buffers. Needs Python.h included and HAVE_X86_DISPATCH
 * defined first. */
#ifndef SKLEARN_NSIGMA_KERNEL_COMMON_H
#define SKLEARN_NSIGMA_KERNEL_COMMON_H

/* The instruction sets, best first; "generic" runs everywhere. */
static const char *const instruction_sets[] = {"avx512f", "avx2", "generic"};
#define N_INSTRUCTION_SETS 3

static int
cpu_supports(int isa)
{
#if HAVE_X86_DISPATCH
    __builtin_cpu_init();
    if (isa == 0) {
        return __builtin_cpu_supports("avx512f");
    }
    if (isa == 1) {
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
#endif
    return isa == N_INSTRUCTION_SETS - 1;
}

/* the best instruction set this CPU runs */
static int
best_instruction_set(void)
{
    int isa = 0;
    while (!cpu_supports(isa)) {
        isa++;
    }
    return isa;
}

/* Whether two buffers share a byte. */
static int
overlap(const Py_buffer *a, const Py_buffer *b)
{
    const char *a0 = (const char *)a->buf, *b0 = (const char *)b->buf;
    return a->len > 0 && b->len > 0 && a0 < b0 + b->len && b0 < a0 + a->len;
}

#endif
