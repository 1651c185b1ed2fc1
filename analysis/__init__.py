"""Offline ML core of Rapport: label feedback comments by sentiment and theme.

Flask-free by design, so it can run in batch jobs, benchmarks and tests:

* :mod:`analysis.text` -- normalise, tokenise, mask PII, split into clauses
* :mod:`analysis.features` / :mod:`analysis.pipelines` -- the two scikit-learn pipelines
* :mod:`analysis.corpus` / :mod:`analysis.train` -- corpus loading and training
* :mod:`analysis.model_store` -- safe (skops) model files and versions
* :mod:`analysis.labeller` -- comment and clause labels from saved models
* :mod:`analysis.classify` / :mod:`analysis.evaluate` -- CSV labelling and metrics

The pain points, report, charts and ``flask analyze`` commands build on these.

Importing this package does no work; submodules load what they need on use.
"""
