"""Offline ML core of Rapport: label feedback comments by sentiment and theme, group complaints.

The ML only: it imports neither Flask nor ``survey`` (``tests/test_analysis_isolation.py``
checks every module), so it runs in batch jobs, benchmarks and tests alike:

* :mod:`analysis.labels` -- the label vocabulary (sentiments, themes), defined once
* :mod:`analysis.text` -- normalise, tokenise, mask PII, split into clauses
* :mod:`analysis.features` / :mod:`analysis.pipelines` -- the two scikit-learn pipelines
* :mod:`analysis.corpus` / :mod:`analysis.train` -- corpus loading and training
* :mod:`analysis.model_store` -- safe (skops) model files and versions
* :mod:`analysis.labeller` -- comment and clause labels from saved models
* :mod:`analysis.classify` / :mod:`analysis.evaluate` -- CSV labelling and metrics
* :mod:`analysis.painpoints` -- negative clauses grouped into named, ranked pain points

``survey.insights`` runs it on the site's answers: ``flask analyze``, the
report and the charts.

Importing this package does no work; submodules load what they need on use.
"""
