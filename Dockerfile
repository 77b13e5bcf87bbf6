# Hypercare's Airflow image: the official Airflow image plus this project's pinned
# dependencies, the `hypercare` package, its DAGs, plugins and include/ (rules, contract,
# SQL, templates). One image for every component: API server, scheduler, DAG processor,
# triggerer and Celery workers (docker-compose.yaml), or the Helm chart's pods.
#
#   docker build -t hypercare-airflow:$(git rev-parse --short HEAD) .
#
# Python 3.11: requirements.lock is compiled for it (`make lock`).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION

# The official image runs everything as `airflow` (uid 50000, group 0) and installs
# packages for that user; only the project folder needs root to create.
USER 0
RUN mkdir -p /opt/hypercare/source \
    && chown -R 50000:0 /opt/hypercare \
    && chmod -R g+rwX /opt/hypercare
USER 50000
WORKDIR /opt/hypercare

# Dependencies first, so a code change does not reinstall them. Naming
# apache-airflow==${AIRFLOW_VERSION} beside the lock is Airflow's rule for adding packages
# to its image: the Airflow the image was built with, under its constraints, stays; the
# lock pins that same version, so a lock that disagrees fails the build here.
COPY --chown=50000:0 requirements.lock ./
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r requirements.lock

# The package is installed editable: it finds include/ beside it (hypercare.INCLUDE_DIR).
COPY --chown=50000:0 pyproject.toml ./
COPY --chown=50000:0 hypercare/ hypercare/
COPY --chown=50000:0 include/ include/
COPY --chown=50000:0 dags/ dags/
COPY --chown=50000:0 plugins/ plugins/
RUN pip install --no-cache-dir --no-deps -e . \
    && python -c "from hypercare import db; assert db.MIGRATIONS_DIR.is_dir(), db.MIGRATIONS_DIR"

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/hypercare/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/hypercare/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    HYPERCARE_RULES_FILE=/opt/hypercare/include/rules.yaml \
    HYPERCARE_SOURCE_DIR=/opt/hypercare/source \
    HYPERCARE_HOME=/opt/airflow/hypercare
WORKDIR /opt/airflow
