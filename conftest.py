"""Root conftest: loaded before any test module or doctest imports SciPy."""

import os

# scikit-learn's array API support needs SciPy's, which is read at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
