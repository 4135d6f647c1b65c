"""Regenerate the figures of the README and the user guide from the examples.

Run from anywhere: ``python doc/generate_images.py``. Each example in
``IMAGES`` runs headless; at its ``plt.show()`` the figures listed are saved
to ``doc/images/`` at a small resolution, to keep the repository light.
"""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "doc" / "images"
DPI = 80

# example -> {figure number (1-based, in creation order): image name}
IMAGES = {
    "plot_gmm_vs_kmeans.py": {1: "gmm_vs_kmeans.png"},
    "plot_nsigma_vs_pdf.py": {1: "nsigma_vs_pdf.png"},
    "plot_coverage_dimensions.py": {
        1: "coverage_dimensions.png",
        2: "coverage_diagnostic.png",
    },
    "plot_outlier_pipeline.py": {1: "pipeline_boundary.png"},
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    show = plt.show
    for example, wanted in IMAGES.items():

        def save(*args, wanted=wanted, **kwargs):
            for number, name in wanted.items():
                figure = plt.figure(plt.get_fignums()[number - 1])
                figure.savefig(OUT / name, dpi=DPI, pil_kwargs={"optimize": True})
                print(f"wrote {(OUT / name).relative_to(ROOT)}")

        plt.show = save
        try:
            runpy.run_path(str(ROOT / "examples" / example), run_name="__main__")
        finally:
            plt.show = show
            plt.close("all")


if __name__ == "__main__":
    main()
