"""scikit-learn estimator conformance of every public estimator."""

from sklearn.base import clone
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_nsigma import (
    NSigmaBayesianGaussianMixture,
    NSigmaGaussianMixture,
    NSigmaOutlierDetector,
    NSigmaOutlierFilter,
)

COVARIANCE_TYPE = ["full", "tied", "diag", "spherical"]
ARRAY_API_INITS = ("random", "random_from_data")

ESTIMATORS = [
    NSigmaGaussianMixture(),
    *[
        NSigmaGaussianMixture(n_components=2, covariance_type=covariance_type)
        for covariance_type in COVARIANCE_TYPE
    ],
    # The init for which GaussianMixture declares array API support.
    NSigmaGaussianMixture(n_components=2, init_params="random_from_data"),
    NSigmaBayesianGaussianMixture(n_components=2),
    # The detector and the filter. Inner mixtures get a fixed random_state:
    # the checks seed only a top-level random_state (used by the default
    # mixture). The outlier checks need both labels on make_blobs(300):
    # with GaussianMixture(n_components=3) and n_sigma=3, spherical
    # covariances flag nobody there, so the per-type instances use 2.5.
    # The calibrated default flags 0.27 % of clean data: see EXPECTED_FAILURES.
    NSigmaOutlierDetector(),
    # The whole suite, the outlier checks included, where the rule flags.
    NSigmaOutlierDetector(calibration="none"),
    NSigmaOutlierDetector(calibration="none", robust=0.975),
    NSigmaOutlierDetector(n_sigma=2.0),
    NSigmaOutlierDetector(calibration="chi2", n_sigma=2.0),
    *[
        NSigmaOutlierDetector(
            GaussianMixture(
                n_components=3, covariance_type=covariance_type, random_state=0
            ),
            n_sigma=2.5,
            calibration="none",
        )
        for covariance_type in COVARIANCE_TYPE
    ],
    *[
        NSigmaOutlierDetector(
            GaussianMixture(
                n_components=3, covariance_type=covariance_type, random_state=0
            ),
            n_sigma=2.0,
        )
        for covariance_type in COVARIANCE_TYPE
    ],
    NSigmaOutlierDetector(GaussianMixture(n_components=3, random_state=0)),
    NSigmaOutlierDetector(BayesianGaussianMixture(n_components=5, random_state=0)),
    NSigmaOutlierDetector(NSigmaGaussianMixture(n_components=3, random_state=0)),
    NSigmaOutlierDetector(GaussianMixture(random_state=0), coverage=0.95),
    NSigmaOutlierDetector(GaussianMixture(random_state=0), contamination=0.1),
    NSigmaOutlierFilter(),
    NSigmaOutlierFilter(NSigmaOutlierDetector(calibration="none", random_state=0)),
    NSigmaOutlierFilter(
        NSigmaOutlierDetector(GaussianMixture(n_components=2, random_state=0))
    ),
    # A FrozenEstimator is fitted to one number of features, and most checks
    # fit on data of another: it is tested in test_detector.py instead.
]


# scikit-learn's check_outliers_train and check_outliers_fit_predict need
# some of their 300 clean make_blobs training samples flagged; a calibrated
# 3-sigma rule flags 0.27 % of clean data (0.8 of 300 on average, fewer with
# the finite-sample radius), so it flags none there. That is the rule
# working: the default keeps it. Both checks then set ``contamination`` on
# the same instance, which the detector refuses when ``n_sigma`` or
# ``coverage`` is set too (a search over n_sigma must never be silently
# inert), so the instances with a non-default n_sigma or with coverage
# cannot run them either. calibration="none" at the default n_sigma runs
# the whole suite, these checks included.
_CALIBRATED_3_SIGMA = (
    "a calibrated 3-sigma rule flags about 0.27 % of clean data, none of the "
    "300 clean training samples of this check"
)
_CONFLICT = (
    "the check sets contamination on top of n_sigma or coverage, a "
    "combination the detector refuses so that no threshold is silently inert"
)
_OUTLIER_CHECKS = ("check_outliers_train", "check_outliers_fit_predict")


def _expected_failed_checks(estimator):
    if not isinstance(estimator, NSigmaOutlierDetector):
        return {}
    if estimator.n_sigma != 3.0 or estimator.coverage is not None:
        return dict.fromkeys(_OUTLIER_CHECKS, _CONFLICT)
    if estimator.calibration != "none" and estimator.contamination is None:
        return dict.fromkeys(_OUTLIER_CHECKS, _CALIBRATED_3_SIGMA)
    return {}


def _check_name(check):
    return getattr(check, "__name__", None) or check.func.__name__


def _instance_for_check(estimator, check):
    """The instance a check runs on.

    GaussianMixture implements array API dispatch only for the random inits
    and raises NotImplementedError for the k-means ones. scikit-learn runs
    ``check_array_api_input`` on GaussianMixture with
    ``init_params="random_from_data"`` (its ``PER_ESTIMATOR_CHECK_PARAMS``);
    we do the same for the subclass, which it does not know about.
    """
    if (
        _check_name(check) == "check_array_api_input"
        and isinstance(estimator, NSigmaGaussianMixture)
        and estimator.init_params not in ARRAY_API_INITS
    ):
        return clone(estimator).set_params(init_params="random_from_data")
    return estimator


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    """Check that every estimator passes scikit-learn's common checks."""
    check(_instance_for_check(estimator, check))
