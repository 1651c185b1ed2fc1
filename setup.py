"""Package list for setuptools; everything else lives in setup.cfg.

``models/`` (the shipped models, their card and the training corpus that
`flask analyze train` reads) stays at the top of the source tree, and ships in
wheels as the data-only package ``rapport_models`` (see
``analysis.model_store.DEFAULT_MODEL_DIR``). setup.cfg cannot list packages
beyond what ``find_namespace:`` finds, hence this file; the folder mapping and
the data files are in setup.cfg.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["survey", "survey.*", "analysis", "analysis.*"])
    + ["rapport_models", "rapport_models.corpus", "rapport_models.word_vectors",
       "rapport_models.facets"],
)
