"""The compiled EM kernel against NumPy, on every instruction set of the CPU."""

import os
import shutil
import sysconfig
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from sklearn_nsigma import NSigmaBayesianGaussianMixture, NSigmaGaussianMixture
from sklearn_nsigma._distance import _ckernel, use_compiled_kernel
from sklearn_nsigma._em_moments import _emkernel, compiled_em_available

needs_kernel = pytest.mark.skipif(_emkernel is None, reason="EM kernel not built")
# the EM kernel dispatches on the distance kernel's instruction sets
INSTRUCTION_SETS = _ckernel.supported_instruction_sets() if _emkernel else []
# the design head of each kind of second moments
HEADS = {"none": 0, "squares": 1, "pairs": 2}
SHAPES = [(1000, 3, 4), (777, 13, 5), (50, 1, 1), (300, 2, 9), (0, 4, 3)]


def problem(n_samples, n_features, n_components, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n_samples, n_features)) * 3 + 50).astype(dtype)
    squared = (rng.random((n_samples, n_components)) * 60).astype(dtype)
    if n_samples:
        squared[0] = 3e3  # every exponential of the row underflows unshifted
    offsets = rng.normal(size=n_components) * 5
    center = (
        X[::7].mean(axis=0, dtype=np.float64) if n_samples else np.zeros(n_features)
    )
    return X, squared, offsets, center


def reference(X, squared, offsets, center, head):
    """The kernel's outputs from their definitions, in float64."""
    log_prob = offsets - 0.5 * squared.astype(np.float64)
    norm = logsumexp(log_prob, axis=1)
    log_resp = log_prob - norm[:, np.newaxis]
    resp = np.exp(log_resp)
    u = X.astype(np.float64) - center
    upper = np.triu_indices(X.shape[1])
    pairs = (u[:, :, np.newaxis] * u[:, np.newaxis, :])[:, upper[0], upper[1]]
    heads = {0: u[:, :0], 1: u**2, 2: pairs}
    design = np.hstack([heads[head], u, np.ones((X.shape[0], 1))])
    return {
        "log_resp": log_resp,
        "resp": resp,
        "norm": norm,
        "entropy": float(np.sum(resp * log_resp)),
        "sums": resp.T @ design,
        "pairs": pairs.sum(axis=0),
    }


def scale(values):
    return max(1.0, float(np.max(np.abs(values)))) if np.size(values) else 1.0


@needs_kernel
@pytest.mark.parametrize("instruction_set", INSTRUCTION_SETS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_e_step_matches_numpy(instruction_set, dtype, head, shape):
    """Check log-responsibilities, log p(x), entropy and sums (mode 0)."""
    code = HEADS[head]
    X, squared, offsets, center = problem(*shape, dtype)
    expected = reference(X, squared, offsets, center, code)
    n_samples, n_features, n_components = shape
    values = squared.copy()
    norm = np.empty(n_samples, dtype=dtype)
    sums = np.zeros_like(expected["sums"])
    pairs = np.zeros(n_features * (n_features + 1) // 2)
    log_total, entropy = _emkernel.em_chunk(
        X, values, offsets, center, sums, pairs, norm, 0, code, True, instruction_set
    )
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    assert values.dtype == norm.dtype == dtype
    assert_allclose(values, expected["log_resp"], rtol=rtol, atol=rtol * 100)
    assert_allclose(norm, expected["norm"], rtol=rtol)
    assert_allclose(log_total, expected["norm"].sum(), rtol=1e-12)
    assert_allclose(entropy, expected["entropy"], rtol=1e-10, atol=1e-10)
    # the sums from float64 responsibilities: float32 input rounds X only
    assert_allclose(sums, expected["sums"], rtol=1e-10, atol=1e-10 * scale(sums))
    assert_allclose(pairs, expected["pairs"], rtol=1e-10, atol=1e-10 * scale(pairs))


@needs_kernel
@pytest.mark.parametrize("instruction_set", INSTRUCTION_SETS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("head", sorted(HEADS))
def test_m_step_sums_match_numpy(instruction_set, dtype, head):
    """Check the sums from given log-responsibilities (mode 1) and resp (2)."""
    code = HEADS[head]
    X, squared, offsets, center = problem(501, 6, 7, dtype, seed=1)
    expected = reference(X, squared, offsets, center, code)
    for mode, given in ((1, expected["log_resp"]), (2, expected["resp"])):
        values = given.astype(dtype)
        before = values.copy()
        sums = np.zeros_like(expected["sums"])
        _, entropy = _emkernel.em_chunk(
            X,
            values,
            offsets,
            center,
            sums,
            None,
            None,
            mode,
            code,
            mode == 1,
            instruction_set,
        )
        np.testing.assert_array_equal(values, before)  # only read
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        assert_allclose(sums, expected["sums"], rtol=rtol, atol=rtol * scale(sums))
        if mode == 1:
            assert_allclose(entropy, expected["entropy"], rtol=rtol)


@needs_kernel
@pytest.mark.parametrize("instruction_set", INSTRUCTION_SETS)
def test_e_step_without_sums_and_degenerate_rows(instruction_set):
    """Check rows whose terms are all -inf, and a component of weight 0.

    As scikit-learn's ``logsumexp``: log p(x) is -inf and the
    log-responsibilities NaN where every term is -inf; a component with a
    log-weight of -inf gets log-responsibilities of -inf elsewhere.
    """
    X = np.zeros((5, 2))
    squared = np.array([[1.0, 2.0, 3.0]] * 4 + [[np.inf] * 3])
    offsets = np.array([0.0, -np.inf, 1.0])
    values = squared.copy()
    norm = np.empty(5)
    log_total, _ = _emkernel.em_chunk(
        X,
        values,
        offsets,
        np.zeros(2),
        None,
        None,
        norm,
        0,
        0,
        False,
        instruction_set,
    )
    with np.errstate(invalid="ignore"):
        log_prob = offsets - 0.5 * squared
        expected_norm = logsumexp(log_prob, axis=1)
        expected = log_prob - expected_norm[:, np.newaxis]
    assert_allclose(norm, expected_norm, rtol=1e-14)
    assert_allclose(values, expected, rtol=1e-14)
    assert np.isnan(values[4]).all() and norm[4] == -np.inf
    assert (values[:4, 1] == -np.inf).all()
    assert log_total == -np.inf


@needs_kernel
def test_em_chunk_rejects_bad_arguments():
    """Check that no argument makes the kernel read or write out of bounds."""
    X, squared, offsets, center = problem(20, 3, 4, np.float64)
    sums = np.zeros((4, 4))

    def call(X=X, values=None, offsets=offsets, center=center, sums=sums, **kw):
        values = squared.copy() if values is None else values
        args = dict(pairs=None, norm=None, mode=0, head=0, entropy=False)
        args.update(kw)
        return _emkernel.em_chunk(
            X,
            values,
            offsets,
            center,
            sums,
            args["pairs"],
            args["norm"],
            args["mode"],
            args["head"],
            args["entropy"],
        )

    call()
    bad = {
        "X rows": dict(X=X[:10]),
        "X dtype": dict(X=X.astype(np.int64)),
        "X order": dict(X=np.asfortranarray(X)),
        "offsets size": dict(offsets=offsets[:3]),
        "center size": dict(center=center[:2]),
        "center dtype": dict(center=center.astype(np.float32)),
        "sums shape": dict(sums=np.zeros((4, 5))),
        "sums dtype": dict(sums=np.zeros((4, 4), dtype=np.float32)),
        "read-only values": dict(values=np.require(squared, requirements="C")[:]),
        "norm size": dict(norm=np.empty(19)),
        "norm dtype": dict(norm=np.empty(20, dtype=np.float32)),
        "pairs size": dict(pairs=np.zeros(5)),
        "pairs without sums": dict(sums=None, pairs=np.zeros(6)),
        "mode": dict(mode=3),
        "head": dict(head=3),
        "entropy of resp": dict(mode=2, entropy=True),
        "norm outside mode 0": dict(mode=1, norm=np.empty(20)),
    }
    bad["read-only values"]["values"].flags.writeable = False
    shared = np.zeros(20 * 4 + 4 * 4)
    bad["overlap"] = dict(
        values=shared[:80].reshape(20, 4), sums=shared[72:88].reshape(4, 4)
    )
    for name, kwargs in bad.items():
        with pytest.raises((ValueError, BufferError, TypeError)):
            call(**kwargs)
            pytest.fail(f"{name}: accepted")
    with pytest.raises(ValueError, match="instruction_set"):
        _emkernel.em_chunk(
            X, squared.copy(), offsets, center, None, None, None, 0, 0, False, "mmx"
        )


@needs_kernel
@pytest.mark.skipif(not compiled_em_available(), reason="compiled kernels off")
@pytest.mark.parametrize("cls", [NSigmaGaussianMixture, NSigmaBayesianGaussianMixture])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_fit_matches_numpy_fit(cls, covariance_type, dtype):
    """Check that the compiled and the NumPy EM give the same fit."""
    rng = np.random.RandomState(0)
    X = np.concatenate(
        [rng.normal(size=(200, 3)) @ rng.normal(size=(3, 3)) + 5 * k for k in range(3)]
    ).astype(dtype)
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        compiled = cls(**params).fit(X)
        with use_compiled_kernel(False):
            numpy = cls(**params).fit(X)
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    assert compiled.n_iter_ == numpy.n_iter_
    assert_allclose(compiled.lower_bound_, numpy.lower_bound_, rtol=rtol)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        expected = getattr(numpy, name)
        assert getattr(compiled, name).dtype == expected.dtype
        assert_allclose(
            getattr(compiled, name),
            expected,
            rtol=rtol,
            atol=rtol * np.max(np.abs(expected)),
        )


@pytest.mark.skipif(
    shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is None,
    reason="no C compiler: the NumPy EM only",
)
def test_the_em_kernel_is_built_where_a_compiler_is():
    """Check an install with a C compiler built the EM kernel, and uses it."""
    assert _emkernel is not None
    if os.environ.get("SKLEARN_NSIGMA_KERNEL", "").lower() != "numpy":
        assert compiled_em_available()
