"""Fairness-aware synthetic health data: generators, augmentation studies and publishable reports

Modules:

- `fairsynth.cli`: The `fairsynth` command line: run a study into an HTML report, rebuild the index, list datasets, generators and settings. Global flags override settings.ini and FAIRSYNTH_* variables.
- `fairsynth.data`: Real health tables by name: a checksummed file registry (found in the data folders or downloaded), one loader per dataset returning a validated `Dataset`, your own CSV through `from_csv`, and a split that keeps each patient on one side.
- `fairsynth.generators.base`: The `Generator` contract (scikit-learn habits: `fit(df, spec) -> self`, `sample(n, conditions, seed)`, fitted state in attributes ending in `_`) and the registry that finds a generator by name.
- `fairsynth.generators.sdv`: SDV 2.0's GaussianCopula, CTGAN and TVAE behind the fairsynth `Generator` contract: metadata from the spec (SDV never guesses a column's type), seeded fits and draws, conditional sampling that never returns fewer rows than asked.
- `fairsynth.generators.smote`: The SMOTE baseline of seed 002: new rows of one group, interpolated between that group's own rows (imbalanced-learn's SMOTE, SMOTENC or SMOTEN, chosen by the column types).
- `fairsynth.metrics.fidelity`: How closely a synthetic table follows the real one: per-column distributions, pairwise correlations, the SDMetrics quality score, and how well a classifier tells real rows from synthetic ones.
- `fairsynth.metrics.privacy`: Does the synthetic table copy its training patients? Distance to closest record (DCR) against a real hold-out reference, exact copies, and a distance-based membership-inference attack.
- `fairsynth.metrics.tabular`: Shared feature encoding for every metric: categorical labels cast alike in real and synthetic tables, a scikit-learn `ColumnTransformer` built from the spec, and the `(X, y)` split for an outcome.
- `fairsynth.metrics.utility`: Train on synthetic, test on real (TSTR): does a model trained on the synthetic table predict the outcome on real hold-out patients as well as one trained on the real training split?
- `fairsynth.report`: Figures, tables and HTML rendering for study reports: a papermill run of a study notebook becomes one self-contained HTML page (figures embedded), and `reports/index.html` links every page.
- `fairsynth.spec`: The dataset spec: which column is the patient, which are sensitive, outcome, treatment, confounders, mediators, and each column's type. Every generator, metric and study reads its roles from here.
- `fairsynth.studies.augmentation`: The seed-002 study (Smolyak et al.): does synthetic data for an under-represented group improve a downstream model for that group, against what practitioners already do (one model with a group indicator, upweighting, separate models, SMOTE)? Any registered generator can supply the synthetic rows.
- `fairsynth.studies.exploratory`: Seed-002 section 3.1 for synthetic rows made for one minority group: do they keep the group's correlation structure, are they nearer to real minority or real majority patients, and does a classifier that tells the two groups apart take them for minority patients?
- `fairsynth.studies.grid`: A resumable grid runner for study cells: one function, many parameter sets, each finished cell stored the moment it arrives, on local worker processes (joblib) or a Dask cluster. A rerun after a crash or a kill computes only what is missing.
- `fairsynth.studies.synthesis`: The seed-003 study: fit generators on the training split of a health table, sample synthetic rows, and measure what they are worth: fidelity, utility (train on real vs train on synthetic, test on real hold-out) and privacy (distance to closest record). The papermill notebook `nbs/studies/synthesis.ipynb` draws its report."""

__version__ = "0.1.0"
