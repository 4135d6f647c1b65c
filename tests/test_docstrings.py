"""numpydoc validation of every public docstring the package defines."""

import inspect

import pytest

import sklearn_nsigma

numpydoc_validate = pytest.importorskip("numpydoc.validate")

# Checks scikit-learn also leaves out (see its test_docstrings.py): the
# summary may span lines, not every object has See Also or Examples, and
# parameters inherited from GaussianMixture are documented by reference.
IGNORED = {"GL01", "GL02", "SA01", "ES01", "EX01", "RT02", "PR01", "GL08"}


def _public_objects():
    for name in sklearn_nsigma.__all__:
        obj = getattr(sklearn_nsigma, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield f"sklearn_nsigma.{name}", obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member):
                    continue
                if member.__module__.startswith("sklearn_nsigma"):
                    yield f"sklearn_nsigma.{name}.{attr}", member


@pytest.mark.parametrize("name, obj", list(_public_objects()), ids=lambda x: str(x))
def test_docstring(name, obj):
    """Check that a public docstring passes numpydoc's validation."""
    result = numpydoc_validate.validate(name)
    errors = [
        f"{code}: {message}"
        for code, message in result["errors"]
        if code not in IGNORED
    ]
    assert not errors, f"{name}:\n" + "\n".join(errors)
